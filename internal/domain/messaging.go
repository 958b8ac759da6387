package domain

// Reach says whom a role may start a conversation with in another role.
type Reach string

const (
	ReachNone    Reach = "none"    // never
	ReachRelated Reach = "related" // only people linked to them (their teachers, their children's teachers, their pupils)
	ReachSchool  Reach = "school"  // anyone of that role in the school
)

// Valid reports whether r is a known reach.
func (r Reach) Valid() bool { return r == ReachNone || r == ReachRelated || r == ReachSchool }

// MessagingPolicy is a school's rule table: Policy[from][to] is how far a
// user of role from may write to users of role to. Admins read and edit it
// on the settings page; replies inside an existing thread are always allowed.
type MessagingPolicy map[Role]map[Role]Reach

// DefaultMessagingPolicy is the rule set of a new school: students write
// only to their teachers and school staff, parents to their children's
// teachers and staff, teachers and staff to anyone in the school.
func DefaultMessagingPolicy() MessagingPolicy {
	return MessagingPolicy{
		RoleStudent: {RoleStudent: ReachNone, RoleParent: ReachNone, RoleTeacher: ReachRelated, RoleAdmin: ReachSchool},
		RoleParent:  {RoleStudent: ReachNone, RoleParent: ReachNone, RoleTeacher: ReachRelated, RoleAdmin: ReachSchool},
		RoleTeacher: {RoleStudent: ReachSchool, RoleParent: ReachSchool, RoleTeacher: ReachSchool, RoleAdmin: ReachSchool},
		RoleAdmin:   {RoleStudent: ReachSchool, RoleParent: ReachSchool, RoleTeacher: ReachSchool, RoleAdmin: ReachSchool},
	}
}

// Reach returns the reach from one role to another, ReachNone when unset.
func (p MessagingPolicy) Reach(from, to Role) Reach {
	if r, ok := p[from][to]; ok && r.Valid() {
		return r
	}
	return ReachNone
}

// Related tells whether two users are linked for ReachRelated: a student and
// a teacher who teaches one of their classes or groups, a parent and a
// teacher of one of their children, a parent and their child.
type Related func(from, to User) bool

// CanWrite reports whether from may start a thread with to under p.
func (p MessagingPolicy) CanWrite(from, to User, related Related) bool {
	if from.SchoolID != to.SchoolID || from.ID == to.ID || to.Disabled {
		return false
	}
	switch p.Reach(from.Role, to.Role) {
	case ReachSchool:
		return true
	case ReachRelated:
		return related != nil && related(from, to)
	}
	return false
}
