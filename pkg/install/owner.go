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

// owner resolves the numeric owner of the installed files. A user or group
// that does not exist maps to 0 (root), because the files must still be
// readable by whatever runs Greengrass Lite then. Owners reports it to the caller.
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
	case errors.As(err, new(user.UnknownUserError)):
		uid = 0
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
	case errors.As(err, new(user.UnknownGroupError)):
		gid = 0
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

// Owners returns the user and group that opts resolve to, and whether each
// exists, so that a caller can warn when the files will belong to root.
func Owners(opts Options) (userName, groupName string, userFound, groupFound bool, err error) {
	opts, err = withDefaults(opts)
	if err != nil {
		return "", "", false, false, err
	}
	lookupUser, lookupGroup := opts.LookupUser, opts.LookupGroup
	if lookupUser == nil {
		lookupUser = user.Lookup
	}
	if lookupGroup == nil {
		lookupGroup = user.LookupGroup
	}
	_, uerr := lookupUser(opts.User)
	groupFound = true
	if opts.Group != "" {
		_, gerr := lookupGroup(opts.Group)
		groupFound = gerr == nil
	}
	return opts.User, opts.Group, uerr == nil, groupFound, nil
}
