-- A membership looked up by user and org is one index probe whichever index a generic
-- plan picks: by user alone, a user in 1,000 orgs walked 1,000 entries per token check.
CREATE INDEX org_members_by_user_org ON org_members (user_id, org_id);
DROP INDEX org_members_by_user;
