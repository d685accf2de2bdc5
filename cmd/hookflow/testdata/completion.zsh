#compdef hookflow
# zsh completion for hookflow. Load it with: source <(hookflow completion zsh),
# or save it as _hookflow in a folder of $fpath.
_hookflow() {
  local -a candidates
  candidates=(${(f)"$(hookflow __complete "${(@)words[2,CURRENT]}" 2>/dev/null)"})
  if (( ${#candidates} )); then
    compadd -- "${candidates[@]}"
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_hookflow" ]]; then
  _hookflow "$@"
else
  compdef _hookflow hookflow
fi
