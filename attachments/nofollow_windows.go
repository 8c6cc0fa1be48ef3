//go:build windows

package attachments

// openNoFollow: Windows has no such flag; O_EXCL already refuses a path
// that exists, a link included, and sameFile checks with Lstat first.
const openNoFollow = 0
