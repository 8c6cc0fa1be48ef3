//go:build unix

package attachments

import "syscall"

// openNoFollow refuses a symbolic link at the path opened.
const openNoFollow = syscall.O_NOFOLLOW
