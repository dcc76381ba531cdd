//! The `user` and `token` commands, run by an operator on the server's host: each change goes through
//! the same checks and recording as one made in the pages, with the operator's OS user as
//! its actor (type `user`, id `os:<name>`). Passwords are read from standard input, never
//! from the command line, where other users and the shell's history would see them.

use crate::config::{TokenCommand, UserCommand};
use app::accounts::User;
use app::entry::{Actor, ActorType};
use app::store::Store;
use app::token_admin::{self, IssueToken};
use app::users::{self, AccountError, ChangeUser, CreateUser};
use chrono::{DateTime, Utc};
use std::io::{BufRead, Write};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OperatorError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("no password on standard input: give it on the first line")]
    NoPassword,
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// The OS user running the command: the owner of this process, by the name the system's
/// user database gives that uid (`uid <n>` when it has none). Not `$USER`, which whoever
/// runs the command may set to anything.
pub fn operator() -> Actor {
    use std::os::unix::fs::MetadataExt;
    let name = match std::fs::metadata("/proc/self") {
        Ok(process) => {
            let uid = process.uid();
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            user_named_by(&passwd, uid).unwrap_or_else(|| format!("uid {uid}"))
        }
        Err(_) => "unknown".to_owned(),
    };
    Actor { kind: ActorType::User, id: format!("os:{name}"), name }
}

/// The name `/etc/passwd` (its text) gives a uid.
fn user_named_by(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// The first line of `input`, without its line end.
pub fn read_password(mut input: impl BufRead) -> Result<String, OperatorError> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(OperatorError::Stdin)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(OperatorError::NoPassword);
    }
    Ok(password.to_owned())
}

pub async fn run(store: &Store, command: UserCommand, out: &mut impl Write) -> Result<(), OperatorError> {
    match command {
        UserCommand::Create { username, role, display_name, password_stdin: _ } => {
            let password = read_password(std::io::stdin().lock())?;
            let request = CreateUser { username, display_name, role, password };
            let user = users::create(store, request, operator()).await?;
            writeln!(out, "Created user '{}' ({}) with role {}.", user.username, user.display_name, user.role)?;
        }
        UserCommand::List => list(&store.accounts.users().await.map_err(AccountError::from)?, Utc::now(), out)?,
        UserCommand::ResetPassword { username, password_stdin: _ } => {
            let password = read_password(std::io::stdin().lock())?;
            let user = users::named(store, &username).await?;
            let change = ChangeUser { password: Some(password), unlock: true, ..ChangeUser::default() };
            users::change(store, user.id, change, operator()).await?;
            writeln!(out, "The password of '{}' is changed; any lockout is lifted.", user.username)?;
        }
        UserCommand::Unlock { username } => {
            let user = users::named(store, &username).await?;
            users::change(store, user.id, ChangeUser { unlock: true, ..ChangeUser::default() }, operator()).await?;
            writeln!(out, "'{}' may sign in again.", user.username)?;
        }
    }
    Ok(())
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// The users as a table.
fn list(users: &[User], now: DateTime<Utc>, out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let locked = u.locked_until.filter(|t| *t > now);
            vec![
                u.username.clone(),
                u.display_name.clone(),
                u.role.to_string(),
                u.status(now).as_str().to_owned(),
                time(u.last_login_at),
                time(locked),
            ]
        })
        .collect();
    let header = ["USERNAME", "DISPLAY NAME", "ROLE", "STATUS", "LAST SIGN-IN", "LOCKED UNTIL"];
    table(&header, &rows, "(no users)", out)
}

/// Rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>], empty: &str, out: &mut impl Write) -> std::io::Result<()> {
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    if rows.is_empty() {
        writeln!(out, "{empty}")?;
    }
    Ok(())
}

/// The `token` commands: created and revoked tokens are recorded with the operator as
/// actor, like those of the tokens page.
pub async fn tokens(store: &Store, command: TokenCommand, out: &mut impl Write) -> Result<(), OperatorError> {
    match command {
        TokenCommand::Create { name, scopes, expires_in_days } => {
            let expires_at = expires_in_days.map(|days| Utc::now() + chrono::Duration::days(i64::from(days)));
            let issued = token_admin::issue(store, IssueToken { name, scopes, expires_at }, operator()).await?;
            let scopes: Vec<&str> = issued.info.scopes.iter().map(|s| s.as_str()).collect();
            let until = issued.info.expires_at.map_or_else(String::new, |t| format!(", until {}", time(Some(t))));
            writeln!(
                out,
                "Created token '{}' with scopes {}{until}. It is shown only once:",
                issued.info.name,
                scopes.join(",")
            )?;
            writeln!(out, "{}", issued.secret)?;
        }
        TokenCommand::List => {
            let now = Utc::now();
            let rows: Vec<Vec<String>> = token_admin::list(store)
                .await?
                .iter()
                .map(|t| {
                    let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                    let expires = match t.expires_at {
                        Some(at) if at <= now => format!("{} (expired)", time(Some(at))),
                        other => time(other),
                    };
                    vec![
                        t.name.clone(),
                        scopes.join(","),
                        t.created_by.clone().unwrap_or_else(|| "-".to_owned()),
                        time(Some(t.created_at)),
                        time(t.last_used_at),
                        expires,
                    ]
                })
                .collect();
            let header = ["NAME", "SCOPES", "CREATED BY", "CREATED", "LAST USED", "EXPIRES"];
            table(&header, &rows, "(no tokens)", out)?;
        }
        TokenCommand::Revoke { name } => {
            let wanted = name.trim();
            let token = token_admin::list(store)
                .await?
                .into_iter()
                .find(|t| t.name == wanted)
                .ok_or_else(|| AccountError::NotFound(format!("API token '{wanted}'")))?;
            token_admin::revoke(store, token.id, operator()).await?;
            writeln!(out, "Token '{}' is revoked: it is refused from now on.", token.name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_end() {
        assert_eq!(read_password(&b"s3cret pass phrase\r\nrest"[..]).expect("read"), "s3cret pass phrase");
        assert_eq!(read_password(&b" spaces kept \n"[..]).expect("read"), " spaces kept ");
        assert!(matches!(read_password(&b"\n"[..]), Err(OperatorError::NoPassword)));
        assert!(matches!(read_password(&b""[..]), Err(OperatorError::NoPassword)));
    }

    #[test]
    fn the_operator_is_the_process_owner_named_by_the_user_database() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nops:x:1000:1000::/home/ops:/bin/sh\n";
        assert_eq!(user_named_by(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_named_by(passwd, 1000).as_deref(), Some("ops"));
        assert_eq!(user_named_by(passwd, 7), None);
        let actor = operator();
        assert_eq!(actor.kind, ActorType::User);
        assert_eq!(actor.id, format!("os:{}", actor.name));
        assert!(!actor.name.is_empty());
    }
}
