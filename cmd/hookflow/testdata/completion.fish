# fish completion for hookflow. Load it with: hookflow completion fish | source
function __hookflow_complete
    set -l words (commandline -opc)
    set -e words[1]
    hookflow __complete $words (commandline -ct) 2>/dev/null
end
complete -c hookflow -a '(__hookflow_complete)'
