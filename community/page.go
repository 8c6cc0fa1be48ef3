package community

import (
	"bytes"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"sync"

	"github.com/sessionctl/sessionctl/internal/httpserve"
	"rsc.io/qr"
)

// The server's web page (pysogs sogs/routes/views.py): GET / lists the
// rooms anyone may read, each with the link Session apps join it by and
// that link as a QR code, so a phone in the room can scan it;
// GET /r/{token}/invite.png is the code alone.

// quietZone is the white border a QR code needs, in modules.
const quietZone = 4

// qrModules encodes text as a QR code (medium error correction) and
// returns its modules, black true, with the quiet zone around them.
func qrModules(text string) ([][]bool, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, err
	}
	n := c.Size + 2*quietZone
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			m[y][x] = c.Black(x-quietZone, y-quietZone)
		}
	}
	return m, nil
}

// QRSVG is text as a QR code in SVG, one path of unit squares.
func QRSVG(text string) (string, error) {
	m, err := qrModules(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="256" height="256" shape-rendering="crispEdges">`, len(m), len(m))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, len(m), len(m))
	for y, row := range m {
		for x, black := range row {
			if black {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

// QRPNG is text as a QR code in PNG, scale pixels a module.
func QRPNG(text string, scale int) ([]byte, error) {
	m, err := qrModules(text)
	if err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, len(m)*scale, len(m)*scale))
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			c := color.Gray{0xff}
			if m[y/scale][x/scale] {
				c = color.Gray{0}
			}
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	err = png.Encode(&buf, img)
	return buf.Bytes(), err
}

var indexTmpl = sync.OnceValue(func() *template.Template { return template.Must(template.New("index").Parse(indexHTML)) })

// indexHTML is the page's template (parsed on first use: not at every
// command's start).
const indexHTML = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Community server</title>
<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
.room{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
.room svg{flex:none}code{word-break:break-all}</style></head>
<body><h1>Community server</h1>
<p>Join a room in a Session app: copy its link, or scan its code with the phone.</p>
{{range .}}<div class="room">{{.QR}}<div><h2>{{.Name}}</h2>{{if .Description}}<p>{{.Description}}</p>{{end}}
<p>Join link: <code>{{.Join}}</code></p><p>{{.Active}} active users this week</p></div></div>
{{else}}<p>No public rooms.</p>{{end}}
</body></html>
`

func (s *Server) indexPage(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT token, name, coalesce(description, '') FROM rooms WHERE default_read = 1 ORDER BY token`)
	if err != nil {
		storageFailure(w)
		return
	}
	type entry struct {
		Token, Name, Description, Join string
		QR                             template.HTML
		Active                         int64
	}
	var list []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.Token, &e.Name, &e.Description); err != nil {
			rows.Close()
			storageFailure(w)
			return
		}
		list = append(list, e)
	}
	rows.Close()
	for i := range list {
		list[i].Join = JoinURL(s.URL(), list[i].Token, s.cfg.Key.Public)
		svg, err := QRSVG(list[i].Join)
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, "cannot draw a QR code")
			return
		}
		list[i].QR = template.HTML(svg) // our own markup, from a link that is digits, letters and ':/?=._-'
		if list[i].Active, err = s.activeUsers(r.Context(), list[i].Token); err != nil {
			storageFailure(w)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	indexTmpl().Execute(w, list)
}

func (s *Server) invitePNG(w http.ResponseWriter, r *http.Request) {
	rm, err := loadRoom(r.Context(), s.db, r.PathValue("token"))
	if err != nil || !rm.DefRead {
		httpserve.WriteError(w, http.StatusNotFound, "no such room")
		return
	}
	b, err := QRPNG(JoinURL(s.URL(), rm.Token, s.cfg.Key.Public), 8)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "cannot draw a QR code")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(b)
}
