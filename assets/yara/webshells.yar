// Common web shells, written for podmortem (README "YARA"): their code or their page text in
// a PHP, JSP or web server process's memory.

rule webshell_php_eval_decode
{
    meta:
        description = "PHP that evaluates a decoded blob: eval(base64_decode(...)), eval(gzinflate(...)), assert(str_rot13(...)), the shape of most obfuscated web shells"
        severity = "high"
        reference = "https://www.php.net/manual/en/function.eval.php"
    strings:
        $eval = /(eval|assert) *\( *(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|strrev) *\(/ nocase
    condition:
        $eval
}

rule webshell_php_request_exec
{
    meta:
        description = "PHP that runs a command taken straight from the request: system($_GET[...]), shell_exec($_POST[...]), passthru($_REQUEST[...])"
        severity = "critical"
        reference = "https://www.php.net/manual/en/ref.exec.php"
    strings:
        $exec = /(system|shell_exec|passthru|exec|popen|proc_open|eval|assert) *\( *\$_(GET|POST|REQUEST|COOKIE|SERVER)\[/ nocase
    condition:
        $exec
}

rule webshell_known_kits
{
    meta:
        description = "Markers of well-known PHP web shell kits: c99, r57, WSO, b374k"
        severity = "critical"
        reference = "https://www.cisa.gov/news-events/alerts/2015/02/05/compromised-web-servers-and-web-shells-threat-awareness-and-guidance"
    strings:
        $c99 = "c99shell" nocase ascii wide
        $c99_title = "!C99Shell v." nocase ascii
        $r57 = "r57shell" nocase ascii wide
        $r57_title = "r57 shell" nocase ascii
        $wso = /<title>[^<]{0,32}WSO [0-9]\.[0-9]/ nocase ascii
        $b374k = "b374k" nocase ascii wide
    condition:
        any of them
}

rule webshell_jsp_runtime_exec
{
    meta:
        description = "A JSP (or Java) web shell: Runtime.getRuntime().exec() of a request parameter"
        severity = "critical"
        reference = "https://docs.oracle.com/javase/8/docs/api/java/lang/Runtime.html#exec-java.lang.String-"
    strings:
        $exec = /Runtime\.getRuntime\(\)\.exec\( *request\.getParameter\(/
    condition:
        $exec
}
