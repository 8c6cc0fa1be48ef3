package community

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Room files, as pysogs serves them (sogs/routes/rooms.py upload_file,
// serve_file): the raw body is the file, its name comes in
// Content-Disposition (RFC 5987 filename*), and a download names it the
// same way.

// badFilename is what a stored file name may not hold (pysogs
// UPLOAD_FILENAME_BAD, whose \w is Unicode's): anything but letters,
// digits, marks, _ and +-.'()@[].
// (compiled on first use: its Unicode classes cost every command's start).
var badFilename = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^\p{L}\p{N}\p{M}_+\-.'()@\[\]]+`) })

// cleanFilename makes an uploaded name safe to keep: bad runs become "_",
// and a name over 60 characters keeps its first 40 and last 17, joined by
// "...", as pysogs does.
func cleanFilename(name string) string {
	name = badFilename().ReplaceAllString(name, "_")
	if r := []rune(name); len(r) > 60 {
		name = string(r[:40]) + "..." + string(r[len(r)-17:])
	}
	return name
}

// filenameOf reads the file name of a Content-Disposition header ("" if
// none).
func filenameOf(h string) string {
	if h == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(h)
	if err != nil {
		return ""
	}
	return params["filename"]
}

// quote percent-encodes a file name for filename*=UTF-8” (as Python's
// urllib.parse.quote: letters, digits and _.-~ stay).
func quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ContentDisposition is the header a download carries: "attachment",
// with the name as filename*=UTF-8” when there is one.
func ContentDisposition(name string) string {
	if name == "" {
		return "attachment"
	}
	return "attachment; filename*=UTF-8''" + quote(name)
}

func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !needUser(w, r) {
		return
	}
	if !p.upload() {
		httpserve.WriteError(w, http.StatusForbidden, "you may not upload to this room")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxFileSize+1))
	if err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, "unreadable body")
		return
	}
	switch {
	case len(data) == 0:
		httpserve.WriteError(w, http.StatusBadRequest, "an empty file: the body is the file's bytes")
		return
	case len(data) > maxFileSize:
		httpserve.WriteError(w, http.StatusRequestEntityTooLarge, "a file is at most 10,000,000 bytes")
		return
	}
	var name sql.NullString
	if fn := cleanFilename(filenameOf(r.Header.Get("Content-Disposition"))); fn != "" {
		name = sql.NullString{String: fn, Valid: true}
	}
	now := s.now()
	var id int64
	if err := s.db.QueryRowContext(r.Context(), `INSERT INTO files (room, data, uploaded, filename, uploader, expires) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		rm.Token, data, now, name, user(r), now+fileExpiry).Scan(&id); err != nil {
		storageFailure(w)
		return
	}
	httpserve.WriteJSON(w, http.StatusCreated, map[string]int64{"id": id})
}

func httpTime(unix float64) string {
	sec, frac := math.Modf(unix)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(http.TimeFormat)
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "id: want a file id")
		return
	}
	if !needRead(w, p) {
		return
	}
	var data []byte
	var name sql.NullString
	var uploaded float64
	var expires sql.NullFloat64
	err = s.db.QueryRowContext(r.Context(), `SELECT data, filename, uploaded, expires FROM files WHERE id = ? AND room = ? AND (expires IS NULL OR expires > ?)`,
		id, rm.Token, s.now()).Scan(&data, &name, &uploaded, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		httpserve.WriteError(w, http.StatusNotFound, "no such file")
		return
	}
	if err != nil {
		storageFailure(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Content-Disposition", ContentDisposition(name.String))
	h.Set("Date", httpTime(uploaded))
	if expires.Valid {
		h.Set("Expires", httpTime(expires.Float64))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}
