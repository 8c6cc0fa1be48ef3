package node

import (
	"os"

	"github.com/rs/zerolog"
)

func testLogger() zerolog.Logger {
	if os.Getenv("NODE_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.DebugLevel).With().Timestamp().Logger()
}
