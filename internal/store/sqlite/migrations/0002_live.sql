-- Live virtual classes: that they took place, who attended, the slides
-- shown. Times are Unix milliseconds, UTC.
CREATE TABLE live_classes (
	id INTEGER PRIMARY KEY,
	school_id INTEGER NOT NULL REFERENCES schools(id),
	class_id INTEGER REFERENCES classes(id),
	group_id INTEGER REFERENCES student_groups(id),
	teacher_id INTEGER NOT NULL REFERENCES users(id),
	title TEXT NOT NULL,
	entry_id INTEGER REFERENCES entries(id),
	started_at INTEGER NOT NULL,
	ended_at INTEGER,
	CHECK ((class_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX live_classes_school ON live_classes (school_id, started_at);
CREATE INDEX live_classes_running ON live_classes (ended_at) WHERE ended_at IS NULL;

CREATE TABLE live_attendance (
	id INTEGER PRIMARY KEY,
	live_class_id INTEGER NOT NULL REFERENCES live_classes(id),
	user_id INTEGER NOT NULL REFERENCES users(id),
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('join', 'leave')),
	reason TEXT NOT NULL DEFAULT '',
	at INTEGER NOT NULL
);
CREATE INDEX live_attendance_class ON live_attendance (live_class_id, id);

CREATE TABLE slide_decks (
	id INTEGER PRIMARY KEY,
	live_class_id INTEGER NOT NULL REFERENCES live_classes(id),
	name TEXT NOT NULL,
	pages TEXT NOT NULL, -- space-separated SHA-256 of the page images
	created_at INTEGER NOT NULL
);
