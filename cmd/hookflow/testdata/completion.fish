# fish completion for hookflow. Load it with: hookflow completion fish | source
function __hookflow_complete
    set -l words (commandline -opc)
    set -e words[1]
    set -l candidates (hookflow __complete $words (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c hookflow -f -a '(__hookflow_complete)'
