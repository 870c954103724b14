//! Opening the sign-in address in the system browser without putting it on a command line, where other users of
//! the machine could read it (`ps`, `/proc/<pid>/cmdline`) and race the browser to the loopback listener. On Linux
//! the XDG desktop portal's OpenURI hands the address over D-Bus; elsewhere, and where no portal answers, the
//! address goes into a small page in a private temporary folder (0700, the page 0600) that redirects to it, and
//! only that page's path is handed to `open` / `xdg-open` / `start`. The page is removed when the sign-in ends.

use std::time::Duration;

use url::Url;

use super::messages::refused;
use crate::engine::error::Result;

const CANNOT_OPEN: &str = "The system browser could not be opened; open the address shown by hand.";

/// What was opened; the redirect page (if any) is removed when this is dropped.
#[derive(Debug)]
pub struct Launched {
    _page: Option<tempfile::TempDir>,
}

/// Open `url` (http or https only) in the system browser, without waiting for it.
pub async fn open(url: &str) -> Result<Launched> {
    let parsed = Url::parse(url).map_err(|_| refused(CANNOT_OPEN))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused(CANNOT_OPEN));
    }
    if through_portal(&parsed).await {
        return Ok(Launched { _page: None });
    }
    let dir = tempfile::Builder::new()
        .prefix("conda-connect-sign-in-")
        .tempdir()
        .map_err(|e| {
            tracing::warn!(error = %e, "no private folder for the redirect page");
            refused(CANNOT_OPEN)
        })?;
    // private whatever the umask: only this user may read the page (and so the address)
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(
            |e| {
                tracing::warn!(error = %e, "the redirect page's folder could not be made private");
                refused(CANNOT_OPEN)
            },
        )?;
    }
    let page = dir.path().join("sign-in.html");
    crate::engine::files::write_atomic(&page, redirect_page(&parsed).as_bytes(), Some(0o600))?;
    open::that_detached(&page).map_err(|e| {
        tracing::warn!(error = %e, "the system browser could not be started");
        refused(CANNOT_OPEN)
    })?;
    Ok(Launched { _page: Some(dir) })
}

/// A page that sends the browser on to `url` at once (with a link, should redirects be off).
fn redirect_page(url: &Url) -> String {
    let escaped = url
        .as_str()
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={escaped}\"><title>conda-connect</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\"><p><a href=\"{escaped}\">Continue to sign in</a></p>\
         </body></html>\n"
    )
}

/// The XDG desktop portal's OpenURI (Linux and BSD desktops); `false` when there is none to ask.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
async fn through_portal(url: &Url) -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
    {
        return false;
    }
    let request = ashpd::desktop::open_uri::OpenFileRequest::default()
        .ask(false)
        .send_uri(url);
    match tokio::time::timeout(Duration::from_secs(3), request).await {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => {
            tracing::info!(error = %error, "the desktop portal did not open the address");
            false
        }
        Err(_) => {
            tracing::info!("the desktop portal did not answer in time");
            false
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
async fn through_portal(_url: &Url) -> bool {
    let _ = Duration::ZERO;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_the_address() {
        let url = Url::parse("https://kc.example/auth?a=1&b=\"x\"<y>").unwrap();
        let page = redirect_page(&url);
        assert!(page.contains("a=1&amp;b=%22x%22%3Cy%3E"), "{page}");
        assert!(!page.contains("<y>"));
    }

    #[tokio::test]
    async fn only_web_addresses_are_handed_to_the_system() {
        for url in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "not a url",
            "/usr/bin/xterm",
        ] {
            assert_eq!(open(url).await.unwrap_err().to_string(), CANNOT_OPEN);
        }
    }
}
