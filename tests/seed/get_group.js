const accessToken = process.env.TALLYFY_ACCESS_TOKEN;
const orgId = process.env.TALLYFY_ORG_ID;
const groupId = process.env.TALLYFY_GROUP_ID; // ID of the group
const queryParams = '?with=assets'; // Example
const apiUrl = `${process.env.ROSTER_URL}/organizations/${orgId}/groups/${groupId}${queryParams}`;

const headers = new Headers();
headers.append('Authorization', `Bearer ${accessToken}`);
headers.append('Accept', 'application/json');
headers.append('X-Tallyfy-Client', 'APIClient');

fetch(apiUrl, {
  method: 'GET',
  headers: headers
})
.then(response => {
  if (!response.ok) {
    // Error handling...
    return response.json().then(errData => {
      throw new Error(/*...*/);
    }).catch(() => {
      throw new Error(/*...*/);
    });
  }
  return response.json();
})
.then(data => {
  console.log(`Successfully retrieved group ${groupId}:`);
  console.log(JSON.stringify(data, null, 2));
})
.catch(error => {
  console.error(`Error getting group ${groupId}:`, error);
});
