# bash completion for hookflow. Load it with: source <(hookflow completion bash)
_hookflow() {
    local IFS=$'\n'
    COMPREPLY=($(hookflow __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _hookflow hookflow
