# fish completion for mcprelayctl: commands, options, agents, and server
# names asked of the running mcprelayd ("mcprelayctl servers --names").

set -l __mcprelayctl_cmds status servers stats watch reconnect disable enable login logout reload show-config metrics rules check-config doctor connect import repoint init help version
set -l __mcprelayctl_ctl status servers stats watch reconnect disable enable login logout reload show-config metrics rules
set -l __mcprelayctl_agents claude-code cursor vscode windsurf gemini

function __mcprelayctl_servers
    set -l tokens (commandline -opc)
    set -l args
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case --socket --config
                set -l j (math $i + 1)
                if test $j -le (count $tokens)
                    set args $args $tokens[$i] $tokens[$j]
                end
        end
    end
    $tokens[1] servers --names $args 2>/dev/null
end

complete -c mcprelayctl -f
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -l help -d 'show the commands'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -l version -d 'print the version'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a status -d 'show the status of the daemon'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a servers -d 'list the servers and their states'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a stats -d 'show statistics'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a watch -d 'follow server states live'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a reconnect -d 'reconnect a server'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a disable -d 'stop a server'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a enable -d 'start a disabled server'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a login -d 'log in to an OAuth server'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a logout -d 'delete OAuth tokens'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a reload -d 're-read the configuration'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a show-config -d 'print the running configuration'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a metrics -d 'print Prometheus metrics'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a rules -d 'show or test retry rules'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a check-config -d 'check a configuration file'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a doctor -d 'check the installation and servers'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a connect -d 'bridge stdio to the MCP socket'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a import -d 'add the servers of an agent'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a repoint -d 'point an agent at mcprelayd'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a init -d 'write a starter configuration'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a help -d 'show the commands'
complete -c mcprelayctl -n "not __fish_seen_subcommand_from $__mcprelayctl_cmds" -a version -d 'print the version'

complete -c mcprelayctl -n "__fish_seen_subcommand_from $__mcprelayctl_ctl" -l json -d 'print JSON'
complete -c mcprelayctl -n "__fish_seen_subcommand_from $__mcprelayctl_ctl" -l socket -r -F -d 'control socket'
complete -c mcprelayctl -n "__fish_seen_subcommand_from $__mcprelayctl_ctl" -l config -r -F -d 'configuration file'
complete -c mcprelayctl -n "__fish_seen_subcommand_from servers" -l names -d 'server names only'
complete -c mcprelayctl -n "__fish_seen_subcommand_from stats reconnect disable enable login logout connect rules" -a "(__mcprelayctl_servers)" -d server
complete -c mcprelayctl -n "__fish_seen_subcommand_from login" -l open -d 'open a browser'
complete -c mcprelayctl -n "__fish_seen_subcommand_from rules" -l class -r -d 'error class'
complete -c mcprelayctl -n "__fish_seen_subcommand_from rules" -l http-status -r -d 'HTTP status'
complete -c mcprelayctl -n "__fish_seen_subcommand_from rules" -l jsonrpc-code -r -d 'JSON-RPC code'
complete -c mcprelayctl -n "__fish_seen_subcommand_from rules" -l result-error -r -d 'tool error text'
complete -c mcprelayctl -n "__fish_seen_subcommand_from doctor" -l config -r -F -d 'configuration file'
complete -c mcprelayctl -n "__fish_seen_subcommand_from doctor" -l timeout -r -d 'time per check'
complete -c mcprelayctl -n "__fish_seen_subcommand_from connect" -l socket -r -F -d 'MCP socket'
complete -c mcprelayctl -n "__fish_seen_subcommand_from check-config" -F
complete -c mcprelayctl -n "__fish_seen_subcommand_from import" -l from -r -F -a "$__mcprelayctl_agents" -d 'agent or file'
complete -c mcprelayctl -n "__fish_seen_subcommand_from import" -l write -d 'write the changes'
complete -c mcprelayctl -n "__fish_seen_subcommand_from import repoint init" -l config -r -F -d 'configuration file'
complete -c mcprelayctl -n "__fish_seen_subcommand_from repoint; and not __fish_seen_subcommand_from $__mcprelayctl_agents" -a "$__mcprelayctl_agents" -d agent
complete -c mcprelayctl -n "__fish_seen_subcommand_from repoint" -l file -r -F -d 'the agent file'
complete -c mcprelayctl -n "__fish_seen_subcommand_from repoint" -l stdio -d 'use mcprelayctl connect'
complete -c mcprelayctl -n "__fish_seen_subcommand_from repoint" -l undo -d 'restore the newest backup'
complete -c mcprelayctl -n "__fish_seen_subcommand_from init" -l user -d 'the user configuration'
complete -c mcprelayctl -n "__fish_seen_subcommand_from help" -a "$__mcprelayctl_cmds"
