package bench

import (
	"context"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
)

// TestLevelEndsOnASend: a load level ends once its duration has passed and
// a send went through, not on the timer alone: a level far shorter than
// one send (as any is on a loaded machine) still measures sends.
func TestLevelEndsOnASend(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 4})
	lv, err := load(context.Background(), nw.LedgerURL(), 2, time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	if lv.Sends < 1 || lv.Fetches < 1 || lv.SendsPerSec <= 0 || lv.SendP50MS <= 0 {
		t.Fatalf("level %+v: want a send and a fetch measured", lv)
	}
}
