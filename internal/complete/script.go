package complete

import (
	"fmt"
	"io"
	"slices"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Shells are the shells Script writes for.
var Shells = []string{"bash", "zsh", "fish"}

// The scripts pass every word up to the cursor, the one under it last
// (empty for a new word), and fall back on file names when no candidate
// comes back. zsh's is eval'd after compinit, or saved as _sessionctl in
// a directory of $fpath.
const (
	bashScript = `_sessionctl() {
  local IFS=$'\n'
  COMPREPLY=($("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD}" ` + Flag + ` 2>/dev/null))
}
complete -o default -F _sessionctl sessionctl
`
	zshScript = `#compdef sessionctl
_sessionctl() {
  local -a cands
  cands=("${(@f)$("${words[1]}" "${(@)words[2,CURRENT]}" ` + Flag + ` 2>/dev/null)}")
  cands=(${cands:#})
  if (( ${#cands} )); then
    compadd -- "${cands[@]}"
  else
    _files
  fi
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _sessionctl "$@"
else
  compdef _sessionctl sessionctl
fi
`
	fishScript = `function __sessionctl_complete
    set -l args (commandline -opc)
    set -l prog $args[1]
    set -e args[1]
    set -l cur (commandline -ct)
    set -l out ($prog $args "$cur" ` + Flag + ` 2>/dev/null)
    if test (count $out) -gt 0
        printf '%s\n' $out
    else
        __fish_complete_path "$cur"
    end
end
complete -c sessionctl -f -a '(__sessionctl_complete)'
`
)

// WriteScript writes the completion script of shell to w; another shell
// than bash, zsh or fish is an errkind.Invalid error.
func WriteScript(w io.Writer, shell string) error {
	s, err := Script(shell)
	if err != nil {
		return errkind.AsInvalid(err)
	}
	_, err = io.WriteString(w, s)
	return err
}

// Script returns the completion script of shell: bash, zsh or fish.
func Script(shell string) (string, error) {
	switch shell {
	case "bash":
		return bashScript, nil
	case "zsh":
		return zshScript, nil
	case "fish":
		return fishScript, nil
	}
	return "", fmt.Errorf("completion for %q: want one of %v", shell, slices.Clone(Shells))
}
