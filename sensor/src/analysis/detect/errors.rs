//! Verbose errors: stack traces, SQL error messages, framework debug pages
//! and server paths in response bodies. Evidence is the matched marker
//! only, never the surrounding message (which may echo user data).

use super::redact::Mask;
use super::rules::{Check, Scope, Spec};
use super::types::{Category::VerboseError, Severity::*};

const ERR: Spec = Spec {
    category: VerboseError,
    severity: Medium,
    scope: Scope::ResponseBody,
    check: Check::None,
    mask: Mask::Verbatim,
    ..Spec::BASE
};

pub const SPECS: &[Spec] = &[
    Spec {
        id: "error.stack_trace.python",
        description: "Python traceback",
        keywords: &["traceback (most recent call last)", "file \""],
        regex: Some(
            r#"Traceback \(most recent call last\):|File "[^"\n]{1,300}", line [0-9]{1,7}, in "#,
        ),
        ..ERR
    },
    Spec {
        id: "error.stack_trace.jvm",
        description: "Java/JVM stack trace (Java, Kotlin, Scala, Groovy frames)",
        keywords: &[
            ".java:",
            ".kt:",
            ".scala:",
            ".groovy:",
            "native method",
            "unknown source",
        ],
        regex: Some(
            r"\bat [A-Za-z_$][A-Za-z0-9_$]{0,100}(?:\.[A-Za-z0-9_$<>]{1,100}){1,30}\((?:[A-Za-z0-9_$]{1,100}\.(?:java|kt|scala|groovy):[0-9]{1,7}|Native Method|Unknown Source)\)",
        ),
        ..ERR
    },
    Spec {
        id: "error.stack_trace.dotnet",
        description: ".NET stack trace",
        keywords: &[
            ":line ",
            "end of stack trace",
            "at system.",
            "at microsoft.",
        ],
        regex: Some(
            r"\bat [A-Za-z_][A-Za-z0-9_.<>`,\[\]]{0,300}\([^)\n]{0,300}\) in [^\n]{1,300}:line [0-9]{1,7}|--- End of (?:inner exception )?stack trace|\bat (?:System|Microsoft)\.[A-Za-z0-9_.`<>]{1,300}\(",
        ),
        ..ERR
    },
    Spec {
        id: "error.stack_trace.node",
        description: "Node.js stack trace",
        keywords: &[".js:", ".mjs:", ".cjs:", ".ts:", "node:internal"],
        regex: Some(
            r"\bat (?:[^\s()]{1,200} \()?(?:/|[A-Za-z]:\\|node:|file://)[^\s():]{1,300}(?:\.(?:js|mjs|cjs|ts))?:[0-9]{1,7}:[0-9]{1,7}\)?",
        ),
        ..ERR
    },
    Spec {
        id: "error.stack_trace.go",
        description: "Go panic with goroutine trace",
        keywords: &["goroutine "],
        regex: Some(
            r"goroutine [0-9]{1,9} \[(?:running|runnable|syscall|chan receive|chan send|select|IO wait|sleep|semacquire|sync\.Mutex\.Lock)[^\]\n]{0,40}\]:",
        ),
        ..ERR
    },
    Spec {
        id: "error.stack_trace.ruby",
        description: "Ruby backtrace",
        keywords: &[".rb:"],
        regex: Some(r"[^\s:'\x22]{1,300}\.rb:[0-9]{1,7}:in (?:'|`|\xE2\x80\x98)[^'\n]{1,200}"),
        ..ERR
    },
    Spec {
        id: "error.stack_trace.php",
        description: "PHP error or stack trace",
        keywords: &["fatal error", "parse error", "warning", "notice", ".php("],
        regex: Some(
            r"(?:PHP )?(?:Fatal error|Parse error|Warning|Notice|Deprecated): [^\n]{1,300} in [^\s]{1,300}\.php(?: on line |:)[0-9]{1,7}|<b>(?:Fatal error|Parse error|Warning|Notice)</b>: [^\n]{1,300} in <b>[^<\n]{1,300}\.php</b> on line <b>[0-9]{1,7}</b>|#[0-9]{1,4} [^\s]{1,300}\.php\([0-9]{1,7}\): ",
        ),
        ..ERR
    },
    Spec {
        id: "error.sql.mysql",
        description: "MySQL or MariaDB error message",
        keywords: &["sql syntax", "mysql", "mariadb", "unknown column"],
        regex: Some(
            r"You have an error in your SQL syntax|your (?:MySQL|MariaDB) server version for the right syntax|com\.mysql\.(?:cj\.)?jdbc|MySQLSyntaxErrorException|Warning: mysqli?_[a-z_]{1,40}\(|mysql_fetch_(?:array|assoc|row)\(|Unknown column '[^'\n]{1,100}' in '",
        ),
        ..ERR
    },
    Spec {
        id: "error.sql.postgresql",
        description: "PostgreSQL error message",
        keywords: &[
            "pg::",
            "psqlexception",
            "psycopg",
            "at or near",
            "pg_query",
            "pg_exec",
            "npgsql",
        ],
        regex: Some(
            r"PG::[A-Za-z]{1,60}Error|org\.postgresql\.util\.PSQLException|psycopg2?\.(?:errors\.)?[A-Za-z]{0,60}Error|ERROR: {1,2}syntax error at or near|unterminated quoted string at or near|pg_(?:query|exec)\(\): Query failed|Npgsql\.PostgresException",
        ),
        ..ERR
    },
    Spec {
        id: "error.sql.sqlite",
        description: "SQLite error message",
        keywords: &["sqlite"],
        regex: Some(
            r"SQLite3::[A-Za-z]{0,40}Exception|sqlite3\.(?:Operational|Integrity|Programming|Database)Error|SQLITE_ERROR|System\.Data\.SQLite\.SQLiteException|SQLiteException",
        ),
        ..ERR
    },
    Spec {
        id: "error.sql.oracle",
        description: "Oracle database error message (ORA-nnnnn)",
        keywords: &["ora-", "oracle.jdbc", "not properly terminated"],
        regex: Some(
            r"\bORA-[0-9]{5}:|oracle\.jdbc\.[A-Za-z.]{1,80}|quoted string not properly terminated",
        ),
        ..ERR
    },
    Spec {
        id: "error.sql.mssql",
        description: "Microsoft SQL Server error message",
        keywords: &[
            "quotation mark",
            "sql server",
            "sqlexception",
            "incorrect syntax near",
        ],
        regex: Some(
            r"Unclosed quotation mark after the character string|Microsoft OLE DB Provider for (?:SQL Server|ODBC Drivers)|(?:System|Microsoft)\.Data\.SqlClient\.SqlException|Incorrect syntax near '|\[Microsoft\]\[ODBC SQL Server Driver\]|\[SQL Server\]",
        ),
        ..ERR
    },
    Spec {
        id: "error.sql.sqlstate",
        description: "Generic SQLSTATE error code",
        keywords: &["sqlstate", "sql state"],
        regex: Some(
            r"SQLSTATE\[[0-9A-Z]{5}\]|SQLSTATE[ =:]{1,3}[0-9A-Z]{5}\b|SQL state \[?[0-9A-Z]{5}",
        ),
        ..ERR
    },
    Spec {
        id: "error.debug_page.werkzeug",
        severity: High,
        description: "Werkzeug interactive debugger (remote code execution if reachable)",
        keywords: &["werkzeug", "__debugger__"],
        regex: Some(r"Werkzeug Debugger|werkzeug\.debug|__debugger__=yes"),
        ..ERR
    },
    Spec {
        id: "error.debug_page.django",
        severity: High,
        description: "Django technical 500 page (DEBUG = True)",
        keywords: &["debug = true", "django version"],
        regex: Some(
            r"You(?:'|&#39;|&#x27;)re seeing this error because you have <code>DEBUG = True</code>|<th>Django Version:</th>",
        ),
        ..ERR
    },
    Spec {
        id: "error.debug_page.rails",
        severity: High,
        description: "Rails development error page",
        keywords: &[
            "action controller",
            "rails.root",
            "actionview::",
            "actioncontroller::",
        ],
        regex: Some(
            r"Action Controller: Exception caught|<code>Rails\.root: |ActionView::Template::Error|ActionController::RoutingError",
        ),
        ..ERR
    },
    Spec {
        id: "error.debug_page.laravel",
        severity: High,
        description: "Laravel / Whoops / Ignition debug page",
        keywords: &["whoops", "illuminate\\", "ignition"],
        regex: Some(
            r"Whoops! There was an error\.|Illuminate\\[A-Za-z\\]{1,100}Exception|Illuminate\\\\[A-Za-z\\]{1,100}Exception|window\.ignite|facade/ignition|spatie/laravel-ignition",
        ),
        ..ERR
    },
    Spec {
        id: "error.debug_page.spring",
        severity: High,
        description: "Spring Boot Whitelabel error page or error JSON with a stack trace",
        keywords: &["whitelabel error page", "trace"],
        regex: Some(r"Whitelabel Error Page"),
        fields: &["trace"],
        check: Check::JavaTrace,
        ..ERR
    },
    Spec {
        id: "error.debug_page.aspnet",
        severity: High,
        description: "ASP.NET yellow screen of death",
        keywords: &["server error in", "asp.net", "unhandled exception occurred"],
        regex: Some(
            r"Server Error in '[^'\n]{0,100}' Application|ASP\.NET is configured to show verbose error messages|An unhandled exception occurred during the execution of the current web request",
        ),
        ..ERR
    },
    Spec {
        id: "error.debug_page.express",
        severity: High,
        description: "Express default error handler in development mode",
        keywords: &["&nbsp;at", "&nbsp; at"],
        regex: Some(r"<pre>[A-Za-z]{0,40}Error[^<\n]{0,300}<br> ?(?:&nbsp; ?){1,4}at "),
        ..ERR
    },
    Spec {
        id: "error.filesystem_path",
        severity: Low,
        description: "Server file-system path (home, web root, library or Windows paths)",
        keywords: &[
            "/home/",
            "/root/",
            "/var/www",
            "/var/lib/",
            "/usr/local/",
            "/usr/lib/",
            "/usr/share/",
            "/opt/",
            "/srv/",
            "/users/",
            ":\\",
        ],
        regex: Some(
            r#"(?:^|[\s"'(=:,\[>])((?:/home/[a-z_][a-z0-9_.-]{0,31}|/root|/var/www|/var/lib|/usr/local/lib|/usr/lib|/usr/share|/opt|/srv|/Users/[A-Za-z0-9_.-]{1,64})/[A-Za-z0-9_.@+-]{1,100}(?:/[A-Za-z0-9_.@+-]{1,100}){0,30}|[A-Za-z]:\\(?:inetpub|Users|Windows|Program Files|www|wwwroot|Projects|src|apps?|home)\\[A-Za-z0-9_. -]{1,100}(?:\\[A-Za-z0-9_. -]{1,100}){0,30})"#,
        ),
        check: Check::FsPath,
        ..ERR
    },
];
