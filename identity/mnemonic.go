package identity

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
)

// The recovery phrase format is the Electrum/Monero word encoding that the
// Session apps use (SPEC 1):
//
//   - the 16 seed bytes are read as four little-endian uint32 groups;
//   - each group x becomes three word indices, with n = 1626:
//     w1 = x mod n, w2 = (x/n + w1) mod n, w3 = (x/n/n + w2) mod n;
//   - a 13th word repeats one of the 12: the one at index
//     crc32(concatenated 3-letter prefixes of the 12 words) mod 12.
//
// Words match on their first three letters, so "abb" reads as "abbey".

//go:embed mnemonic-english.txt
var wordListText string

// PrefixLen is how many leading letters identify a word of the list.
const PrefixLen = 3

// PhraseWords is the number of words of a recovery phrase, checksum included.
const PhraseWords = 13

// wordList is the word list, read from its text on first use (not at
// start: every command would pay for it).
type wordList struct {
	words     []string       // index -> word
	wordByPfx map[string]int // 3-letter prefix -> index
	n         uint64
}

var errListBad = errors.New("identity: embedded word list is malformed")

var theWords = sync.OnceValue(func() *wordList {
	l := &wordList{words: strings.Fields(wordListText)}
	l.n = uint64(len(l.words))
	l.wordByPfx = make(map[string]int, len(l.words))
	for i, w := range l.words {
		p := prefix(w)
		if _, dup := l.wordByPfx[p]; dup {
			panic(fmt.Errorf("%w: prefix %q twice", errListBad, p))
		}
		l.wordByPfx[p] = i
	}
	if l.n != 1626 {
		panic(fmt.Errorf("%w: %d words, want 1626", errListBad, l.n))
	}
	return l
})

// Errors returned by DecodePhrase, for errors.Is.
var (
	ErrPhraseLength  = errors.New("a recovery phrase has 13 words")
	ErrUnknownWord   = errors.New("unknown word")
	ErrChecksum      = errors.New("checksum word does not match")
	ErrPhraseInvalid = errors.New("words do not encode a valid seed")
	ErrSeedLength    = errors.New("a recovery seed is 16 bytes")
)

func prefix(w string) string {
	if len(w) > PrefixLen {
		return w[:PrefixLen]
	}
	return w
}

// EncodePhrase returns the 13-word recovery phrase of a 16-byte seed.
func EncodePhrase(seed [SeedSize]byte) string {
	out := make([]string, 0, PhraseWords)
	l := theWords()
	words, numWords := l.words, l.n
	for g := 0; g < SeedSize/4; g++ {
		x := uint64(binary.LittleEndian.Uint32(seed[4*g:]))
		w1 := x % numWords
		w2 := (x/numWords + w1) % numWords
		w3 := (x/numWords/numWords + w2) % numWords
		out = append(out, words[w1], words[w2], words[w3])
	}
	out = append(out, out[checksumIndex(out)])
	return strings.Join(out, " ")
}

func checksumIndex(ws []string) int {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(prefix(w))
	}
	return int(crc32.ChecksumIEEE([]byte(b.String())) % uint32(len(ws)))
}

// DecodePhrase returns the seed a recovery phrase encodes. Words are matched
// case-insensitively on their first three letters; extra white space is ignored.
func DecodePhrase(phrase string) ([SeedSize]byte, error) {
	var seed [SeedSize]byte
	fields := strings.Fields(strings.ToLower(phrase))
	if len(fields) != PhraseWords {
		return seed, fmt.Errorf("%w, got %d", ErrPhraseLength, len(fields))
	}
	idx := make([]uint64, len(fields))
	full := make([]string, len(fields))
	l := theWords()
	for i, f := range fields {
		j, ok := l.wordByPfx[prefix(f)]
		if !ok {
			return seed, fmt.Errorf("%w %q (word %d)", ErrUnknownWord, f, i+1)
		}
		idx[i], full[i] = uint64(j), l.words[j]
	}
	if want := full[checksumIndex(full[:PhraseWords-1])]; prefix(want) != prefix(full[PhraseWords-1]) {
		return seed, fmt.Errorf("%w: the 13th word should be %q", ErrChecksum, want)
	}
	n := l.n
	for g := 0; g < SeedSize/4; g++ {
		w1, w2, w3 := idx[3*g], idx[3*g+1], idx[3*g+2]
		x := w1 + n*((n-w1+w2)%n) + n*n*((n-w2+w3)%n)
		if x > 0xffffffff { // three words can name more than 32 bits
			return seed, fmt.Errorf("%w (words %d-%d)", ErrPhraseInvalid, 3*g+1, 3*g+3)
		}
		binary.LittleEndian.PutUint32(seed[4*g:], uint32(x))
	}
	return seed, nil
}
