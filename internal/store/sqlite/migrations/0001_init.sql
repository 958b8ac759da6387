-- Préau initial schema. Times are Unix milliseconds, UTC.
CREATE TABLE schools (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	timezone TEXT NOT NULL DEFAULT 'Europe/Paris',
	messaging_policy TEXT NOT NULL DEFAULT ''
);

CREATE TABLE classes (
	id INTEGER PRIMARY KEY,
	school_id INTEGER NOT NULL REFERENCES schools(id),
	name TEXT NOT NULL,
	UNIQUE (school_id, name)
);

CREATE TABLE student_groups (
	id INTEGER PRIMARY KEY,
	school_id INTEGER NOT NULL REFERENCES schools(id),
	name TEXT NOT NULL,
	UNIQUE (school_id, name)
);

CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	school_id INTEGER NOT NULL REFERENCES schools(id),
	login TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL,
	role TEXT NOT NULL CHECK (role IN ('student', 'parent', 'teacher', 'admin')),
	lang TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX users_school_role ON users (school_id, role, display_name);

CREATE TABLE enrollments (
	student_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	class_id INTEGER NOT NULL REFERENCES classes(id)
);
CREATE INDEX enrollments_class ON enrollments (class_id);

CREATE TABLE group_members (
	group_id INTEGER NOT NULL REFERENCES student_groups(id),
	student_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, student_id)
);
CREATE INDEX group_members_student ON group_members (student_id);

CREATE TABLE parent_links (
	parent_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	child_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX parent_links_child ON parent_links (child_id);

CREATE TABLE teachings (
	id INTEGER PRIMARY KEY,
	teacher_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	class_id INTEGER REFERENCES classes(id),
	group_id INTEGER REFERENCES student_groups(id),
	subject TEXT NOT NULL,
	CHECK ((class_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX teachings_unique ON teachings (teacher_id, coalesce(class_id, 0), coalesce(group_id, 0), subject);
CREATE INDEX teachings_class ON teachings (class_id);
CREATE INDEX teachings_group ON teachings (group_id);

CREATE TABLE sessions (
	id_hash BLOB PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE entries (
	id INTEGER PRIMARY KEY,
	school_id INTEGER NOT NULL REFERENCES schools(id),
	teacher_id INTEGER NOT NULL REFERENCES users(id),
	class_id INTEGER REFERENCES classes(id),
	group_id INTEGER REFERENCES student_groups(id),
	kind TEXT NOT NULL CHECK (kind IN ('lesson', 'homework')),
	subject TEXT NOT NULL,
	title TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	lesson_date INTEGER NOT NULL,
	due_at INTEGER,
	publish_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	hand_in INTEGER NOT NULL DEFAULT 0,
	CHECK ((class_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX entries_class_kind_day ON entries (class_id, kind, coalesce(due_at, lesson_date));
CREATE INDEX entries_group_kind_day ON entries (group_id, kind, coalesce(due_at, lesson_date));
CREATE INDEX entries_teacher ON entries (teacher_id, kind, coalesce(due_at, lesson_date));

-- Attachments of entries, submissions and messages; the file itself is in
-- the blob store under its SHA-256.
CREATE TABLE attachments (
	id INTEGER PRIMARY KEY,
	owner_kind TEXT NOT NULL CHECK (owner_kind IN ('entry', 'submission', 'message')),
	owner_id INTEGER NOT NULL,
	name TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size INTEGER NOT NULL,
	sha256 TEXT NOT NULL
);
CREATE INDEX attachments_owner ON attachments (owner_kind, owner_id, id);

CREATE TABLE homework_done (
	entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
	student_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	done_at INTEGER NOT NULL,
	PRIMARY KEY (entry_id, student_id)
);
CREATE INDEX homework_done_student ON homework_done (student_id, entry_id);

CREATE TABLE submissions (
	id INTEGER PRIMARY KEY,
	entry_id INTEGER NOT NULL REFERENCES entries(id),
	student_id INTEGER NOT NULL REFERENCES users(id),
	submitted_at INTEGER NOT NULL,
	text TEXT NOT NULL DEFAULT '',
	late INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX submissions_entry_student ON submissions (entry_id, student_id, id);
CREATE INDEX submissions_student ON submissions (student_id, entry_id);

-- Submissions are write-once: the database refuses changes, whatever the code does.
CREATE TRIGGER submissions_immutable BEFORE UPDATE ON submissions
BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END;
CREATE TRIGGER submissions_undeletable BEFORE DELETE ON submissions
BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END;

CREATE TABLE feedback (
	submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
	teacher_id INTEGER NOT NULL REFERENCES users(id),
	text TEXT NOT NULL DEFAULT '',
	mark REAL,
	out_of REAL NOT NULL DEFAULT 20,
	returned_at INTEGER NOT NULL
);

CREATE TABLE threads (
	id INTEGER PRIMARY KEY,
	school_id INTEGER NOT NULL REFERENCES schools(id),
	subject TEXT NOT NULL,
	created_by INTEGER NOT NULL REFERENCES users(id),
	created_at INTEGER NOT NULL,
	last_at INTEGER NOT NULL
);

CREATE TABLE thread_participants (
	thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	last_read INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (thread_id, user_id)
);
CREATE INDEX thread_participants_user ON thread_participants (user_id, thread_id);

CREATE TABLE messages (
	id INTEGER PRIMARY KEY,
	thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
	sender_id INTEGER NOT NULL REFERENCES users(id),
	body TEXT NOT NULL,
	sent_at INTEGER NOT NULL
);
CREATE INDEX messages_thread ON messages (thread_id, id);

CREATE TABLE timetable_slots (
	id INTEGER PRIMARY KEY,
	class_id INTEGER NOT NULL REFERENCES classes(id),
	weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
	start_time TEXT NOT NULL,
	end_time TEXT NOT NULL,
	subject TEXT NOT NULL,
	teacher_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
	room TEXT NOT NULL DEFAULT '',
	group_id INTEGER REFERENCES student_groups(id)
);
CREATE INDEX timetable_class ON timetable_slots (class_id, weekday, start_time);
CREATE INDEX timetable_teacher ON timetable_slots (teacher_id, weekday, start_time);
