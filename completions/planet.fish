# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_planet_global_optspecs
    string join \n h/help V/version
end

function __fish_planet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_planet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_planet_using_subcommand
    set -l cmd (__fish_planet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c planet -n "__fish_planet_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c planet -n "__fish_planet_needs_command" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_needs_command" -f -a "collect" -d 'Read the socket tables once (or in a loop) and write the exposition'
complete -c planet -n "__fish_planet_needs_command" -f -a "graph" -d 'Draw the fleet\'s dependency graph from Prometheus, or from the .prom files of several hosts'
complete -c planet -n "__fish_planet_needs_command" -f -a "wrap" -d 'Work with a --wrap rules file'
complete -c planet -n "__fish_planet_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c planet -n "__fish_planet_needs_command" -f -a "man" -d 'Print the man page (roff), e.g. `planet man | man -l -`'
complete -c planet -n "__fish_planet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c planet -n "__fish_planet_using_subcommand collect" -l out -d 'Write DIR/planet.prom atomically (node_exporter\'s --collector.textfile.directory)' -r -F
complete -c planet -n "__fish_planet_using_subcommand collect" -l netns -d 'Which network namespaces to read: every one some process lives in (containers included), or planet\'s own only' -r -f -a "all\t'Every namespace some process lives in: a container host seen whole'
own\t'planet\'s own only (a host whose containers are watched otherwise)'"
complete -c planet -n "__fish_planet_using_subcommand collect" -l file-name -d 'Name of the file written in the --out directory; must end in .prom' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l interval -d 'Time between two collections with --loop (e.g. 500ms, 15s, 1m; at most 1d) [default: 15s]' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l state-file -d 'Where counters persist between runs [default: $STATE_DIRECTORY/planet.state under systemd, else /var/lib/planet/planet.state with --out; none with --stdout]' -r -F
complete -c planet -n "__fish_planet_using_subcommand collect" -l forget-after -d 'Drop a dependency series once it has had no connection for this long' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l max-peers -d 'At most this many peers per family (at most 10000); the rest fold into name="other"' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l exclude-peer -d 'Leave out peers in this network (repeatable), e.g. 10.0.0.0/8 or ::1' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l inventory -d 'Name peers from this inventory first: a JSON array or NDJSON of {"ip_address": ADDR or CIDR, "domain": ..., "hostgroup": ...}' -r -F
complete -c planet -n "__fish_planet_using_subcommand collect" -l dns-server -d 'Ask this DNS server (port 53 unless given) instead of /etc/resolv.conf\'s' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l dns-timeout -d 'Time budget for all reverse DNS look-ups of one run (at most 1m)' -r
complete -c planet -n "__fish_planet_using_subcommand collect" -l wrap -d 'Scrape other local exporters and reshape their metrics by the rules in this TOML file (see `planet wrap check`)' -r -F
complete -c planet -n "__fish_planet_using_subcommand collect" -l collector -d 'Run only this collector (repeatable); the others are off' -r -f -a "serving\t''
dependencies\t''
process_sockets\t''
host\t''
wrap\t''"
complete -c planet -n "__fish_planet_using_subcommand collect" -l no-collector -d 'Switch this collector off (repeatable)' -r -f -a "serving\t''
dependencies\t''
process_sockets\t''
host\t''
wrap\t''"
complete -c planet -n "__fish_planet_using_subcommand collect" -l stdout -d 'Print the exposition to standard output instead of writing a file'
complete -c planet -n "__fish_planet_using_subcommand collect" -l loop -d 'Keep collecting every --interval until SIGTERM or SIGINT'
complete -c planet -n "__fish_planet_using_subcommand collect" -l no-resolve -d 'Do not ask DNS for peer names'
complete -c planet -n "__fish_planet_using_subcommand collect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c planet -n "__fish_planet_using_subcommand collect" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_using_subcommand graph" -l prometheus -d 'The Prometheus HTTP API to read every host\'s series from (Prometheus, Thanos, Mimir, VictoriaMetrics): http:// or https://, a path prefix kept (e.g. https://mimir.example/prometheus); user:password@ in it authenticates' -r
complete -c planet -n "__fish_planet_using_subcommand graph" -l files -d 'The .prom files of several hosts instead (totals instead of rates)' -r -F
complete -c planet -n "__fish_planet_using_subcommand graph" -l before -d 'With --files: the same fleet\'s files from an earlier time; draws what changed since, as --diff does' -r -F
complete -c planet -n "__fish_planet_using_subcommand graph" -l window -d 'The window byte and event rates are taken over, with --prometheus' -r
complete -c planet -n "__fish_planet_using_subcommand graph" -l at -d 'Evaluate every query at this time instead of now: RFC 3339 (2026-11-30T14:00:00Z) or Unix seconds' -r
complete -c planet -n "__fish_planet_using_subcommand graph" -l diff -d 'Draw the graph now against the graph DURATION earlier: every node and edge is new, gone or the same (with --files, pass --before instead)' -r
complete -c planet -n "__fish_planet_using_subcommand graph" -l group -d 'One node per host, edges summed, or one per service (html groups by host by itself over 300 nodes)' -r -f -a "host\t'One node per host (and per external peer), edges summed'
service\t'One node per process of a host or container (the default, up to 300 nodes in html)'"
complete -c planet -n "__fish_planet_using_subcommand graph" -l format -d 'json (Grafana\'s Node Graph fields), dot (Graphviz), mermaid, or html (one self-contained page)' -r -f -a "json\t''
dot\t''
mermaid\t''
html\t''"
complete -c planet -n "__fish_planet_using_subcommand graph" -s o -l output -d 'Write the graph to this file (atomically) instead of standard output' -r -F
complete -c planet -n "__fish_planet_using_subcommand graph" -l ca-file -d 'More CA certificates (PEM) to trust for https://, besides the system\'s' -r -F
complete -c planet -n "__fish_planet_using_subcommand graph" -l bearer-token-file -d 'Send the token in this file as `Authorization: Bearer`' -r -F
complete -c planet -n "__fish_planet_using_subcommand graph" -l basic-auth-file -d 'Authenticate with the `user:password` in this file (HTTP basic)' -r -F
complete -c planet -n "__fish_planet_using_subcommand graph" -l header -d 'Send this header with every query (repeatable), e.g. \'X-Scope-OrgID: tenant-1\' for Mimir or Cortex' -r
complete -c planet -n "__fish_planet_using_subcommand graph" -l active -d 'Only the edges that had an open connection or moved bytes, and the nodes they join (idle edges stay for Prometheus\' staleness window)'
complete -c planet -n "__fish_planet_using_subcommand graph" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c planet -n "__fish_planet_using_subcommand graph" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_using_subcommand wrap; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c planet -n "__fish_planet_using_subcommand wrap; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_using_subcommand wrap; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Check a rules file, fetch its sources once, and print what it would write'
complete -c planet -n "__fish_planet_using_subcommand wrap; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c planet -n "__fish_planet_using_subcommand wrap; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c planet -n "__fish_planet_using_subcommand wrap; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_using_subcommand wrap; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check a rules file, fetch its sources once, and print what it would write'
complete -c planet -n "__fish_planet_using_subcommand wrap; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c planet -n "__fish_planet_using_subcommand completions" -s h -l help -d 'Print help'
complete -c planet -n "__fish_planet_using_subcommand completions" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_using_subcommand man" -s h -l help -d 'Print help'
complete -c planet -n "__fish_planet_using_subcommand man" -s V -l version -d 'Print version'
complete -c planet -n "__fish_planet_using_subcommand help; and not __fish_seen_subcommand_from collect graph wrap completions man help" -f -a "collect" -d 'Read the socket tables once (or in a loop) and write the exposition'
complete -c planet -n "__fish_planet_using_subcommand help; and not __fish_seen_subcommand_from collect graph wrap completions man help" -f -a "graph" -d 'Draw the fleet\'s dependency graph from Prometheus, or from the .prom files of several hosts'
complete -c planet -n "__fish_planet_using_subcommand help; and not __fish_seen_subcommand_from collect graph wrap completions man help" -f -a "wrap" -d 'Work with a --wrap rules file'
complete -c planet -n "__fish_planet_using_subcommand help; and not __fish_seen_subcommand_from collect graph wrap completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c planet -n "__fish_planet_using_subcommand help; and not __fish_seen_subcommand_from collect graph wrap completions man help" -f -a "man" -d 'Print the man page (roff), e.g. `planet man | man -l -`'
complete -c planet -n "__fish_planet_using_subcommand help; and not __fish_seen_subcommand_from collect graph wrap completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c planet -n "__fish_planet_using_subcommand help; and __fish_seen_subcommand_from wrap" -f -a "check" -d 'Check a rules file, fetch its sources once, and print what it would write'
