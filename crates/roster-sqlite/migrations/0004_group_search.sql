-- A trigram index over the folded name and description, so that `q` finds its matches
-- without reading every group of the organization (18 ms for 100,000 groups). It indexes
-- the `*_key` columns, already folded the way `q` is, so it is case-sensitive on purpose;
-- queries re-check each candidate with `instr`, so results are exactly the unindexed ones.
-- Triggers keep it in the same transaction as every change to a group.
CREATE VIRTUAL TABLE group_search USING fts5(
    name_key, description_key,
    content = 'groups', content_rowid = 'pk',
    tokenize = 'trigram case_sensitive 1'
);

CREATE TRIGGER group_search_insert AFTER INSERT ON groups BEGIN
    INSERT INTO group_search (rowid, name_key, description_key)
    VALUES (new.pk, new.name_key, new.description_key);
END;

CREATE TRIGGER group_search_delete AFTER DELETE ON groups BEGIN
    INSERT INTO group_search (group_search, rowid, name_key, description_key)
    VALUES ('delete', old.pk, old.name_key, old.description_key);
END;

CREATE TRIGGER group_search_update AFTER UPDATE OF name_key, description_key ON groups BEGIN
    INSERT INTO group_search (group_search, rowid, name_key, description_key)
    VALUES ('delete', old.pk, old.name_key, old.description_key);
    INSERT INTO group_search (rowid, name_key, description_key)
    VALUES (new.pk, new.name_key, new.description_key);
END;

INSERT INTO group_search (group_search) VALUES ('rebuild');
