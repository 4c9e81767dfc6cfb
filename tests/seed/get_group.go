package main

import (
	"fmt"
	"io/ioutil"
	"net/http"
	"net/url"
	"os"
)

func main() {
	accessToken := os.Getenv("TALLYFY_ACCESS_TOKEN")
	orgId := os.Getenv("TALLYFY_ORG_ID")
	groupId := os.Getenv("TALLYFY_GROUP_ID")
	baseUrl := fmt.Sprintf(os.Getenv("ROSTER_URL")+"/organizations/%s/groups/%s", orgId, groupId)

	queryParams := url.Values{}
	queryParams.Add("with", "assets") // Example

	apiUrl := baseUrl + "?" + queryParams.Encode()

	client := &http.Client{}
	req, err := http.NewRequest("GET", apiUrl, nil)
	// Error handling...
	if err != nil {
		panic(err)
	}

	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Tallyfy-Client", "APIClient")

	resp, err := client.Do(req)
	// Error handling...
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()

	body, err := ioutil.ReadAll(resp.Body)
	// Error handling...
	if err != nil {
		panic(err)
	}

	if resp.StatusCode != http.StatusOK {
		// Error handling...
		fmt.Printf("Failed. Status: %d\nBody: %s\n", resp.StatusCode, string(body))
		return
	}

	fmt.Printf("Successfully retrieved group %s:\n", groupId)
	fmt.Println(string(body)) // TODO: Unmarshal JSON
}
