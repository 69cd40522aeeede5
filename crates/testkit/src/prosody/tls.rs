//! STARTTLS instances: the test PKI (a CA and a leaf certificate made with `openssl`) and the
//! config settings that turn TLS on.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{TestkitError, find_program, lua_string, random_u64};

/// The test PKI of a TLS instance.
pub(super) struct TlsFiles {
    pub(super) ca_pem: Vec<u8>,
    pub(super) certificate: PathBuf,
    pub(super) key: PathBuf,
}

/// Enables STARTTLS (required) in a rendered config: the `"tls"` module, the certificate,
/// `c2s_require_encryption = true` (see the template's optional placeholders).
pub fn render_tls(config: &str, certificate: &Path, key: &Path) -> String {
    let settings = format!(
        "ssl = {{ certificate = {}; key = {} }}\n\
         c2s_require_encryption = true            -- STARTTLS before sign-in (TLS variant)",
        lua_string(&certificate.to_string_lossy()),
        lua_string(&key.to_string_lossy()),
    );
    config
        .replace(
            "--@TLS_MODULE@",
            "\"tls\";                              -- STARTTLS",
        )
        .replace("--@TLS_SETTINGS@", &settings)
}

/// Makes a test CA and a leaf certificate for `domain` (subjectAltName `DNS:<domain>`,
/// `CA:FALSE`, server auth) in `dir` with the `openssl` command line (P-256 keys, 2 days).
pub(super) fn make_test_pki(dir: &Path, domain: &str) -> Result<TlsFiles, TestkitError> {
    let openssl = find_program(&OsString::from("openssl")).map_err(|_| {
        TestkitError::io(
            "making the test certificates",
            io::Error::new(
                io::ErrorKind::NotFound,
                "openssl is not installed: run 'apt-get install -y openssl'",
            ),
        )
    })?;
    let ca_key = dir.join("test-ca.key");
    let ca_crt = dir.join("test-ca.crt");
    let key = dir.join(format!("{domain}.key"));
    let csr = dir.join(format!("{domain}.csr"));
    let crt = dir.join(format!("{domain}.crt"));
    let ext = dir.join(format!("{domain}.ext"));
    std::fs::write(
        &ext,
        format!(
            "subjectAltName = DNS:{domain}\n\
             basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n"
        ),
    )
    .map_err(|e| TestkitError::io(format!("writing {}", ext.display()), e))?;
    let path = |p: &PathBuf| p.to_string_lossy().into_owned();
    let serial = format!("0x{:016x}", random_u64() >> 1);
    let steps: [Vec<String>; 3] = [
        vec![
            "req".into(),
            "-x509".into(),
            "-newkey".into(),
            "ec".into(),
            "-pkeyopt".into(),
            "ec_paramgen_curve:prime256v1".into(),
            "-nodes".into(),
            "-keyout".into(),
            path(&ca_key),
            "-out".into(),
            path(&ca_crt),
            "-days".into(),
            "2".into(),
            "-subj".into(),
            "/CN=Switchboard test CA".into(),
            "-addext".into(),
            "basicConstraints=critical,CA:TRUE".into(),
            "-addext".into(),
            "keyUsage=critical,keyCertSign,cRLSign".into(),
        ],
        vec![
            "req".into(),
            "-new".into(),
            "-newkey".into(),
            "ec".into(),
            "-pkeyopt".into(),
            "ec_paramgen_curve:prime256v1".into(),
            "-nodes".into(),
            "-keyout".into(),
            path(&key),
            "-out".into(),
            path(&csr),
            "-subj".into(),
            format!("/CN={domain}"),
        ],
        vec![
            "x509".into(),
            "-req".into(),
            "-in".into(),
            path(&csr),
            "-CA".into(),
            path(&ca_crt),
            "-CAkey".into(),
            path(&ca_key),
            "-set_serial".into(),
            serial,
            "-days".into(),
            "2".into(),
            "-extfile".into(),
            path(&ext),
            "-out".into(),
            path(&crt),
        ],
    ];
    for args in steps {
        let output = Command::new(&openssl)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TestkitError::io("running openssl", e))?;
        if !output.status.success() {
            return Err(TestkitError::io(
                format!("openssl {}", args[0]),
                io::Error::other(format!(
                    "{}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
            ));
        }
    }
    let ca_pem = std::fs::read(&ca_crt)
        .map_err(|e| TestkitError::io(format!("reading {}", ca_crt.display()), e))?;
    Ok(TlsFiles {
        ca_pem,
        certificate: crt,
        key,
    })
}
