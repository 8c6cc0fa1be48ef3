package sqlitedb

import (
	"os"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	if os.Getenv("LOOK") == "" {
		return
	}
	var sz, cnt int32
	switch os.Getenv("LOOK") {
	case "small":
		sz, cnt = 1200, 8
	}
	tls := libc.NewTLS()
	va := libc.NewVaList(sz, cnt)
	sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_LOOKASIDE, va)
	libc.Xfree(tls, va)
	tls.Close()
}
