-- What was said in a live class's chat, kept as it is said: a message is
-- shown to the room only once written, so a crash of the node loses none
-- that anybody saw. Times are Unix milliseconds, UTC.
CREATE TABLE live_chat (
	id INTEGER PRIMARY KEY,
	live_class_id INTEGER NOT NULL REFERENCES live_classes(id),
	seq INTEGER NOT NULL,
	user_id INTEGER NOT NULL REFERENCES users(id),
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	text TEXT NOT NULL,
	at INTEGER NOT NULL,
	UNIQUE (live_class_id, seq)
);
