package install

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// DefaultUser is the user and group that Greengrass Lite runs as unless its
// configuration names another.
const DefaultUser = "ggcore"

// owner resolves the numeric owner of the installed files. When the default
// user or group does not exist, root (0) is used, because the files must
// still be readable by whatever runs Greengrass Lite then. A user or group
// that the configuration names must exist.
func owner(o Options) (uid, gid int, err error) {
	lookupUser := o.LookupUser
	if lookupUser == nil {
		lookupUser = user.Lookup
	}
	lookupGroup := o.LookupGroup
	if lookupGroup == nil {
		lookupGroup = user.LookupGroup
	}

	u, err := lookupUser(o.User)
	switch {
	case errors.As(err, new(user.UnknownUserError)) && o.rootFallback:
		uid = 0
	case errors.As(err, new(user.UnknownUserError)):
		return 0, 0, fmt.Errorf("user %q does not exist; create it or change the user setting", o.User)
	case err != nil:
		return 0, 0, fmt.Errorf("look up user %q: %w", o.User, err)
	default:
		uid, err = parseID("user", o.User, u.Uid)
		if err != nil {
			return 0, 0, err
		}
	}

	if o.Group == "" {
		// The user's primary group, or root when the user does not exist.
		if u != nil {
			gid, err = parseID("group", o.User, u.Gid)
		}
		return uid, gid, err
	}

	g, err := lookupGroup(o.Group)
	switch {
	case errors.As(err, new(user.UnknownGroupError)) && o.rootFallback:
		gid = 0
	case errors.As(err, new(user.UnknownGroupError)):
		return 0, 0, fmt.Errorf("group %q does not exist; create it or change the group setting", o.Group)
	case err != nil:
		return 0, 0, fmt.Errorf("look up group %q: %w", o.Group, err)
	default:
		gid, err = parseID("group", o.Group, g.Gid)
		if err != nil {
			return 0, 0, err
		}
	}

	return uid, gid, nil
}

func parseID(kind, name, id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q has invalid numeric id %q", kind, name, id)
	}

	return n, nil
}
