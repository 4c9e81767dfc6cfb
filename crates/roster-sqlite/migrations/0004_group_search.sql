-- A trigram index over the folded name and description, so that `q` finds its matches
-- without reading every group of the organization (18 ms for 100,000 groups). It indexes
-- the `*_key` columns, already folded the way `q` is, so it is case-sensitive on purpose;
-- queries re-check each candidate with `instr`, so results are exactly the unindexed ones.
CREATE VIRTUAL TABLE group_search USING fts5(
    name_key, description_key,
    content = 'groups', content_rowid = 'pk',
    tokenize = 'trigram case_sensitive 1'
);
INSERT INTO group_search (group_search) VALUES ('rebuild');
-- Every committed batch adds a small segment; merging them 16 at a time rather than 4
-- does a quarter of the merge work per write, at the price of a few more segments for
-- a search to read.
INSERT INTO group_search (group_search, rank) VALUES ('automerge', 16);

-- Changes reach the index once per committed batch of writes, not once per write: FTS5
-- flushes and merges its segments at every savepoint release, and every write runs in
-- its own savepoint (group commit), which made a create cost 1.6 million instructions
-- instead of 80,000. Triggers queue each change here, in order; the writer applies the
-- queue (`connection::APPLY_QUEUED_INDEX_CHANGES`) in the same transaction, just before
-- COMMIT, so a committed state never has changes left in the queue.
CREATE TABLE group_search_queue (
    seq INTEGER PRIMARY KEY,
    -- NULL adds the row to the index; 'delete' takes the old values out.
    command TEXT,
    pk INTEGER NOT NULL,
    name_key TEXT NOT NULL,
    description_key TEXT NOT NULL
);

CREATE TRIGGER group_search_insert AFTER INSERT ON groups BEGIN
    INSERT INTO group_search_queue (command, pk, name_key, description_key)
    VALUES (NULL, new.pk, new.name_key, new.description_key);
END;

CREATE TRIGGER group_search_delete AFTER DELETE ON groups BEGIN
    INSERT INTO group_search_queue (command, pk, name_key, description_key)
    VALUES ('delete', old.pk, old.name_key, old.description_key);
END;

CREATE TRIGGER group_search_update AFTER UPDATE OF name_key, description_key ON groups BEGIN
    INSERT INTO group_search_queue (command, pk, name_key, description_key)
    VALUES ('delete', old.pk, old.name_key, old.description_key);
    INSERT INTO group_search_queue (command, pk, name_key, description_key)
    VALUES (NULL, new.pk, new.name_key, new.description_key);
END;
