"""A short scenario through a Python client generated from Roster's served /openapi.json
by openapi-python-client (see run.sh): every answer is parsed into the generated models,
and the models are what is asserted."""

import os
import sys

sys.path.insert(0, os.environ["ROSTER_CLIENT_DIR"])

from roster_client import AuthenticatedClient  # noqa: E402
from roster_client.api.groups import (  # noqa: E402
    create_group,
    delete_group,
    get_group,
    list_groups,
    patch_group_members,
    update_group,
)
from roster_client.models import (  # noqa: E402
    ErrorBody,
    GroupCreate,
    GroupUpdate,
    ItemGroupOut,
    ListGroupOut,
    ListGroupsSortBy,
    MemberEdit,
)

org = os.environ["ROSTER_ORG"]
client = AuthenticatedClient(
    base_url=os.environ["ROSTER_URL"],
    token=os.environ["ROSTER_TOKEN"],
    headers={"X-Tallyfy-Client": "APIClient"},
)


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


created = create_group.sync_detailed(
    org,
    client=client,
    body=GroupCreate(
        name="Sales Team",
        description="Handles all sales inquiries.",
        members=[1],
        guests=["client.a@example.com"],
    ),
)
check(created.status_code == 201 and isinstance(created.parsed, ItemGroupOut), "createGroup: 201, parsed")
group = created.parsed.data
check(
    (group.name, group.members, group.guests, group.member_count, group.logo)
    == ("Sales Team", [1], ["client.a@example.com"], 1, None),
    "createGroup: the group as sent",
)

got = get_group.sync_detailed(org, group.id, client=client, with_="assets")
check(got.status_code == 200 and isinstance(got.parsed, ItemGroupOut), "getGroup with=assets: 200, parsed")
check(got.parsed.data.id == group.id and got.parsed.data.assets.data == [], "getGroup: no logo, empty assets")
check(got.headers.get("etag", "").startswith('"'), "getGroup: a quoted ETag")

listed = list_groups.sync_detailed(org, client=client, per_page=10, sort_by=ListGroupsSortBy.NAME_DESC)
check(listed.status_code == 200 and isinstance(listed.parsed, ListGroupOut), "listGroups: 200, parsed")
check(
    [g.id for g in listed.parsed.data] == [group.id] and listed.parsed.meta.pagination.total == 1,
    "listGroups: the one group, total 1",
)

updated = update_group.sync_detailed(
    org, group.id, client=client, body=GroupUpdate(name="Sales", description="Renamed.")
)
check(updated.status_code == 200 and isinstance(updated.parsed, ItemGroupOut), "updateGroup: 200, parsed")
check((updated.parsed.data.name, updated.parsed.data.description) == ("Sales", "Renamed."), "updateGroup: renamed")

patched = patch_group_members.sync_detailed(org, group.id, client=client, body=MemberEdit(remove=[1]))
check(patched.status_code == 200 and isinstance(patched.parsed, ItemGroupOut), "patchGroupMembers: 200, parsed")
check(patched.parsed.data.member_count == 0, "patchGroupMembers: the member left")

missing = get_group.sync_detailed(org, "0123456789abcdef0123456789abcdef", client=client)
check(missing.status_code == 404 and isinstance(missing.parsed, ErrorBody), "getGroup unknown id: 404, parsed")
check((missing.parsed.error, missing.parsed.code) == (True, "RESOURCE_NOT_FOUND"), "getGroup unknown id: the error body")

deleted = delete_group.sync_detailed(org, group.id, client=client)
check(deleted.status_code == 204, "deleteGroup: 204")
gone = get_group.sync_detailed(org, group.id, client=client)
check(gone.status_code == 404 and isinstance(gone.parsed, ErrorBody), "getGroup after delete: 404")
