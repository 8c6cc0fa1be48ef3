package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/fileserver"
)

func fileServer(nw *devnet.Network, _ string) client.ServerInfo {
	return client.ServerInfo{URL: nw.Files.URL(), X25519: nw.FileServerKey().Public}
}

func TestAttachment(t *testing.T) {
	dir := t.TempDir()
	var skew atomic.Int64 // the file server's clock runs ahead by this much
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	nw := devnettest.Start(t, devnet.Config{Dir: dir, Nodes: 7, FileExpiry: 2 * time.Second, ServerNow: now})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice, bob := devnettest.Client(t, nw, aliceK), devnettest.Client(t, nw, bobK)
	srv := fileServer(nw, "sessionctl")
	photo := bytes.Repeat([]byte("a holiday photo "), 20_000) // 320 kB
	att, err := alice.Upload(ctx, srv, "photo.jpg", photo)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Trim(att.ID, "0123456789") != "" || att.URL != client.RealFileServer+"/file/"+att.ID || len(att.Digest) != 32 {
		t.Fatalf("the attachment pointer: id %q, url %q, digest %x", att.ID, att.URL, att.Digest)
	}
	if _, err := alice.SendContent(ctx, bobK.AccountID(), client.Content{Text: "look", Attachments: []client.Attachment{*att}}); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := bob.Fetch(ctx)
	if err != nil || len(msgs) != 1 || len(msgs[0].Attachments) != 1 {
		t.Fatalf("bob got %+v, %v", msgs, err)
	}
	got, err := bob.Download(ctx, srv, msgs[0].Attachments[0])
	if err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("the attachment came back changed (%d bytes), %v", len(got), err)
	}
	// Both know its size from the pointer: a download by id alone is cut
	// to it.
	for name, c := range map[string]*client.Client{"alice": alice, "bob": bob} {
		if n, ok, err := c.FileSize(ctx, att.ID); n != len(photo) || !ok || err != nil {
			t.Fatalf("%s knows the size as %d, %v, %v", name, n, ok, err)
		}
	}
	if _, ok, _ := bob.FileSize(ctx, "12345"); ok {
		t.Fatal("the size of a file never seen is known")
	}
	// The file server stores ciphertext only.
	db, err := openRaw(filepath.Join(dir, "fileserver", "files.db"))
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	db.QueryRow(`SELECT data FROM files WHERE id = ?`, att.ID).Scan(&stored)
	db.Close()
	if len(stored) == 0 || bytes.Contains(stored, []byte("holiday")) {
		t.Fatalf("the file server holds %d bytes, plaintext: %v", len(stored), bytes.Contains(stored, []byte("holiday")))
	}
	// A wrong key does not open it.
	bad := *att
	bad.Key = make([]byte, client.AttachmentKeySize)
	if _, err := bob.Download(ctx, srv, bad); err == nil {
		t.Fatal("a wrong key opened the attachment")
	}
	// Too big is refused; expired is gone.
	big := make([]byte, fileserver.MaxFileSize+1)
	rand.Read(big)
	if _, err := alice.Upload(ctx, srv, "big", big); err == nil || !strings.Contains(err.Error(), "413") {
		t.Fatalf("an oversized upload: %v", err)
	}
	skew.Store(int64(2500 * time.Millisecond)) // the file is past its expiry
	if _, err := bob.Download(ctx, srv, *att); !errors.Is(err, client.ErrNoFile) {
		t.Fatalf("an expired file: %v", err)
	}
}

// BenchmarkAttachment10MB: a 10 MB attachment through the onion path, up
// and down (MB/s is of the plaintext).
func BenchmarkAttachment10MB(b *testing.B) {
	nw := devnettest.Start(b, devnet.Config{Nodes: 7})
	ctx := context.Background()
	c := devnettest.Client(b, nw, newKeys(b))
	srv := fileServer(nw, "sessionctl")
	data := make([]byte, fileserver.MaxFileSize-64)
	rand.Read(data)
	var att *client.Attachment
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var err error
			if att, err = c.Upload(ctx, srv, "big", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("download", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := c.Download(ctx, srv, *att); err != nil {
				b.Fatal(err)
			}
		}
	})
}
