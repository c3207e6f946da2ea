#compdef planet

autoload -U is-at-least

_planet() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_planet_commands" \
"*::: :->planet" \
&& ret=0
    case $state in
    (planet)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:planet-command-$line[1]:"
        case $line[1] in
            (collect)
_arguments "${_arguments_options[@]}" : \
'--out=[Write DIR/planet.prom atomically (node_exporter'\''s --collector.textfile.directory)]:DIR:_files' \
'--netns=[Which network namespaces to read\: every one some process lives in (containers included), or planet'\''s own only]:WHICH:((all\:"Every namespace some process lives in\: a container host seen whole"
own\:"planet'\''s own only (a host whose containers are watched otherwise)"))' \
'--file-name=[Name of the file written in the --out directory; must end in .prom]:NAME:_default' \
'--interval=[Time between two collections with --loop (e.g. 500ms, 15s, 1m; at most 1d) \[default\: 15s\]]:DURATION:_default' \
'--state-file=[Where counters persist between runs \[default\: \$STATE_DIRECTORY/planet.state under systemd, else /var/lib/planet/planet.state with --out; none with --stdout\]]:PATH:_files' \
'--forget-after=[Drop a dependency series once it has had no connection for this long]:DURATION:_default' \
'--max-peers=[At most this many peers per family (at most 10000); the rest fold into name="other"]:N:_default' \
'*--exclude-peer=[Leave out peers in this network (repeatable), e.g. 10.0.0.0/8 or \:\:1]:CIDR:_default' \
'--inventory=[Name peers from this inventory first\: a JSON array or NDJSON of {"ip_address"\: ADDR or CIDR, "domain"\: ..., "hostgroup"\: ...}]:FILE:_files' \
'--dns-server=[Ask this DNS server (port 53 unless given) instead of /etc/resolv.conf'\''s]:ADDR[:PORT]:_default' \
'--dns-timeout=[Time budget for all reverse DNS look-ups of one run (at most 1m)]:DURATION:_default' \
'--wrap=[Scrape other local exporters and reshape their metrics by the rules in this TOML file (see \`planet wrap check\`)]:FILE:_files' \
'*--collector=[Run only this collector (repeatable); the others are off]:NAME:(serving dependencies process_sockets host wrap)' \
'*--no-collector=[Switch this collector off (repeatable)]:NAME:(serving dependencies process_sockets host wrap)' \
'--stdout[Print the exposition to standard output instead of writing a file]' \
'--loop[Keep collecting every --interval until SIGTERM or SIGINT]' \
'(--dns-server)--no-resolve[Do not ask DNS for peer names]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(graph)
_arguments "${_arguments_options[@]}" : \
'--prometheus=[The Prometheus HTTP API to read every host'\''s series from (Prometheus, Thanos, Mimir, VictoriaMetrics)\: http\:// or https\://, a path prefix kept (e.g. https\://mimir.example/prometheus); user\:password@ in it authenticates]:URL:_default' \
'*--files=[The .prom files of several hosts instead (totals instead of rates)]:FILE:_files' \
'*--before=[With --files\: the same fleet'\''s files from an earlier time; draws what changed since, as --diff does]:FILE:_files' \
'--window=[The window byte and event rates are taken over, with --prometheus]:DURATION:_default' \
'--at=[Evaluate every query at this time instead of now\: RFC 3339 (2026-11-30T14\:00\:00Z) or Unix seconds]:TIME:_default' \
'--diff=[Draw the graph now against the graph DURATION earlier\: every node and edge is new, gone or the same (with --files, pass --before instead)]:DURATION:_default' \
'--group=[One node per host, edges summed, or one per service (html groups by host by itself over 300 nodes)]:BY:((host\:"One node per host (and per external peer), edges summed"
service\:"One node per process of a host or container (the default, up to 300 nodes in html)"))' \
'--format=[json (Grafana'\''s Node Graph fields), dot (Graphviz), mermaid, or html (one self-contained page)]:FORMAT:(json dot mermaid html)' \
'-o+[Write the graph to this file (atomically) instead of standard output]:FILE:_files' \
'--output=[Write the graph to this file (atomically) instead of standard output]:FILE:_files' \
'--ca-file=[More CA certificates (PEM) to trust for https\://, besides the system'\''s]:FILE:_files' \
'--bearer-token-file=[Send the token in this file as \`Authorization\: Bearer\`]:FILE:_files' \
'--basic-auth-file=[Authenticate with the \`user\:password\` in this file (HTTP basic)]:FILE:_files' \
'*--header=[Send this header with every query (repeatable), e.g. '\''X-Scope-OrgID\: tenant-1'\'' for Mimir or Cortex]:NAME: VALUE:_default' \
'--active[Only the edges that had an open connection or moved bytes, and the nodes they join (idle edges stay for Prometheus'\'' staleness window)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(wrap)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_planet__subcmd__wrap_commands" \
"*::: :->wrap" \
&& ret=0

    case $state in
    (wrap)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:planet-wrap-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':file:_files' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_planet__subcmd__wrap__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:planet-wrap-help-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_planet__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:planet-help-command-$line[1]:"
        case $line[1] in
            (collect)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(graph)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(wrap)
_arguments "${_arguments_options[@]}" : \
":: :_planet__subcmd__help__subcmd__wrap_commands" \
"*::: :->wrap" \
&& ret=0

    case $state in
    (wrap)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:planet-help-wrap-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_planet_commands] )) ||
_planet_commands() {
    local commands; commands=(
'collect:Read the socket tables once (or in a loop) and write the exposition' \
'graph:Draw the fleet'\''s dependency graph from Prometheus, or from the .prom files of several hosts' \
'wrap:Work with a --wrap rules file' \
'completions:Print a shell completion script (bash, zsh, fish, elvish, powershell)' \
'man:Print the man page (roff), e.g. \`planet man | man -l -\`' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'planet commands' commands "$@"
}
(( $+functions[_planet__subcmd__collect_commands] )) ||
_planet__subcmd__collect_commands() {
    local commands; commands=()
    _describe -t commands 'planet collect commands' commands "$@"
}
(( $+functions[_planet__subcmd__completions_commands] )) ||
_planet__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'planet completions commands' commands "$@"
}
(( $+functions[_planet__subcmd__graph_commands] )) ||
_planet__subcmd__graph_commands() {
    local commands; commands=()
    _describe -t commands 'planet graph commands' commands "$@"
}
(( $+functions[_planet__subcmd__help_commands] )) ||
_planet__subcmd__help_commands() {
    local commands; commands=(
'collect:Read the socket tables once (or in a loop) and write the exposition' \
'graph:Draw the fleet'\''s dependency graph from Prometheus, or from the .prom files of several hosts' \
'wrap:Work with a --wrap rules file' \
'completions:Print a shell completion script (bash, zsh, fish, elvish, powershell)' \
'man:Print the man page (roff), e.g. \`planet man | man -l -\`' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'planet help commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__collect_commands] )) ||
_planet__subcmd__help__subcmd__collect_commands() {
    local commands; commands=()
    _describe -t commands 'planet help collect commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__completions_commands] )) ||
_planet__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'planet help completions commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__graph_commands] )) ||
_planet__subcmd__help__subcmd__graph_commands() {
    local commands; commands=()
    _describe -t commands 'planet help graph commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__help_commands] )) ||
_planet__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'planet help help commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__man_commands] )) ||
_planet__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'planet help man commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__wrap_commands] )) ||
_planet__subcmd__help__subcmd__wrap_commands() {
    local commands; commands=(
'check:Check a rules file, fetch its sources once, and print what it would write' \
    )
    _describe -t commands 'planet help wrap commands' commands "$@"
}
(( $+functions[_planet__subcmd__help__subcmd__wrap__subcmd__check_commands] )) ||
_planet__subcmd__help__subcmd__wrap__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'planet help wrap check commands' commands "$@"
}
(( $+functions[_planet__subcmd__man_commands] )) ||
_planet__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'planet man commands' commands "$@"
}
(( $+functions[_planet__subcmd__wrap_commands] )) ||
_planet__subcmd__wrap_commands() {
    local commands; commands=(
'check:Check a rules file, fetch its sources once, and print what it would write' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'planet wrap commands' commands "$@"
}
(( $+functions[_planet__subcmd__wrap__subcmd__check_commands] )) ||
_planet__subcmd__wrap__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'planet wrap check commands' commands "$@"
}
(( $+functions[_planet__subcmd__wrap__subcmd__help_commands] )) ||
_planet__subcmd__wrap__subcmd__help_commands() {
    local commands; commands=(
'check:Check a rules file, fetch its sources once, and print what it would write' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'planet wrap help commands' commands "$@"
}
(( $+functions[_planet__subcmd__wrap__subcmd__help__subcmd__check_commands] )) ||
_planet__subcmd__wrap__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'planet wrap help check commands' commands "$@"
}
(( $+functions[_planet__subcmd__wrap__subcmd__help__subcmd__help_commands] )) ||
_planet__subcmd__wrap__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'planet wrap help help commands' commands "$@"
}

if [ "$funcstack[1]" = "_planet" ]; then
    _planet "$@"
else
    compdef _planet planet
fi
