import requests
import json
import os

access_token = os.environ.get('TALLYFY_ACCESS_TOKEN', 'YOUR_PERSONAL_ACCESS_TOKEN')
org_id = os.environ.get('TALLYFY_ORG_ID', 'YOUR_ORGANIZATION_ID')
group_id = os.environ.get('TALLYFY_GROUP_ID', 'GROUP_ID_TO_GET')
api_url = f"{os.environ['ROSTER_URL']}/organizations/{org_id}/groups/{group_id}"

headers = {
    'Authorization': f'Bearer {access_token}',
    'Accept': 'application/json',
    'X-Tallyfy-Client': 'APIClient'
}

params = {
    'with': 'assets' # Example
}

try:
    response = requests.get(api_url, headers=headers, params=params)
    response.raise_for_status()

    group_data = response.json()
    print(f'Successfully retrieved group {group_id}:')
    print(json.dumps(group_data, indent=4))

except requests.exceptions.RequestException as e:
    # Error handling...
    print(f"Request failed: {e}")
except json.JSONDecodeError:
    print("Failed to decode JSON response")
