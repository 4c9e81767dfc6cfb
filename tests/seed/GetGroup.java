import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Collectors;

public class GetGroup {
    public static void main(String[] args) {
        String accessToken = System.getenv().getOrDefault("TALLYFY_ACCESS_TOKEN", "YOUR_PERSONAL_ACCESS_TOKEN");
        String orgId = System.getenv().getOrDefault("TALLYFY_ORG_ID", "YOUR_ORGANIZATION_ID");
        String groupId = System.getenv().getOrDefault("TALLYFY_GROUP_ID", "GROUP_ID_TO_GET");
        String baseUrl = String.format(System.getenv("ROSTER_URL") + "/organizations/%s/groups/%s", orgId, groupId);

        Map<String, String> queryParamsMap = Map.of("with", "assets"); // Example
        String queryParams = queryParamsMap.entrySet().stream()
            .map(entry -> URLEncoder.encode(entry.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(entry.getValue(), StandardCharsets.UTF_8))
            .collect(Collectors.joining("&", "?", ""));

        String apiUrl = baseUrl + (queryParamsMap.isEmpty() ? "" : queryParams);

        HttpClient client = HttpClient.newHttpClient();
        HttpRequest request = HttpRequest.newBuilder()
            .uri(URI.create(apiUrl))
            .header("Authorization", "Bearer " + accessToken)
            .header("Accept", "application/json")
            .header("X-Tallyfy-Client", "APIClient")
            .GET()
            .build();

        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200) {
                System.out.println("Successfully retrieved group " + groupId + ":");
                System.out.println(response.body()); // TODO: Parse JSON
            } else {
                // Error handling...
                System.err.println("Failed. Status: " + response.statusCode());
            }
        } catch (IOException | InterruptedException e) {
            // Error handling...
            System.err.println("Request failed: " + e.getMessage());
        }
    }
}
