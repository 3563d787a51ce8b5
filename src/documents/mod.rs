//! Uploaded documents (CV). Files are stored outside any served directory under a generated
//! name; the name the doctor's computer gave is kept in the database for staff only.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// What the form accepts: a PDF, recognised by its first bytes, not by its name.
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// A file written to the document store, not yet recorded in the database.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub storage_key: String,
    pub original_name: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// Keeps only the last path component of a client-supplied file name, without control
/// characters, at most 200 characters. Used for display only, never on disk.
pub fn display_name(client_name: &str) -> String {
    let last = client_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    let trimmed = last.trim().trim_start_matches('.').to_owned();
    if trimmed.is_empty() {
        "cv.pdf".to_owned()
    } else {
        trimmed
    }
}

/// The name a document is downloaded under: generated, never the uploader's (which may end in
/// `.html` or `.exe`), always `.pdf` since only PDFs are stored.
pub fn download_name(document_id: i64) -> String {
    format!("cv-{document_id}.pdf")
}

fn path_for(dir: &Path, storage_key: &str) -> PathBuf {
    dir.join(storage_key)
}

/// Writes the bytes under a new random name (write to a temporary file, fsync, rename).
pub fn store(dir: &Path, bytes: &[u8], client_name: &str) -> anyhow::Result<StoredFile> {
    store_as(dir, bytes, client_name, "pdf")
}

/// Writes an attachment of a message received (any type) like [`store`]; its key does not
/// claim a type.
pub fn store_attachment(dir: &Path, bytes: &[u8], client_name: &str) -> anyhow::Result<StoredFile> {
    store_as(dir, bytes, client_name, "bin")
}

/// The name an attachment is downloaded under: generated, with the extension of the sender's
/// name only when it is one of a short list of document and image types (never `.html`,
/// `.exe`, `.svg`…), else `.bin`.
pub fn attachment_download_name(document_id: i64, original_name: &str) -> String {
    let ext = original_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| {
            matches!(
                e.as_str(),
                "pdf" | "jpg" | "jpeg" | "png" | "doc" | "docx" | "odt" | "rtf" | "txt"
            )
        })
        .unwrap_or_else(|| "bin".to_owned());
    format!("piece-jointe-{document_id}.{ext}")
}

fn store_as(dir: &Path, bytes: &[u8], client_name: &str, ext: &str) -> anyhow::Result<StoredFile> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let storage_key = format!("{}.{ext}", uuid::Uuid::new_v4());
    let final_path = path_for(dir, &storage_key);
    let tmp_path = dir.join(format!(".{storage_key}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp_path).context("creating document file")?;
        f.write_all(bytes).context("writing document")?;
        f.sync_all().context("syncing document")?;
    }
    std::fs::rename(&tmp_path, &final_path).context("moving document into place")?;
    Ok(StoredFile {
        storage_key,
        original_name: display_name(client_name),
        size_bytes: bytes.len() as i64,
        sha256: hex(&Sha256::digest(bytes)),
    })
}

/// Removes a stored file that ended up unused (the transaction failed or was a duplicate).
pub fn discard(dir: &Path, file: &StoredFile) {
    if let Err(e) = std::fs::remove_file(path_for(dir, &file.storage_key)) {
        tracing::warn!(error = %e, "could not remove an unused document file");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_paths_are_reduced_to_a_harmless_name() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\moi\\CV.pdf"), "CV.pdf");
        assert_eq!(display_name("..."), "cv.pdf");
        assert_eq!(display_name("a\u{0}b.pdf"), "ab.pdf");
    }

    #[test]
    fn attachments_are_served_under_our_name_with_a_harmless_extension() {
        assert_eq!(attachment_download_name(4, "CV.PDF"), "piece-jointe-4.pdf");
        assert_eq!(
            attachment_download_name(4, "photo.jpeg"),
            "piece-jointe-4.jpeg"
        );
        assert_eq!(
            attachment_download_name(4, "page.html"),
            "piece-jointe-4.bin"
        );
        assert_eq!(
            attachment_download_name(4, "virus.pdf.exe"),
            "piece-jointe-4.bin"
        );
        assert_eq!(
            attachment_download_name(4, "sans-extension"),
            "piece-jointe-4.bin"
        );
    }

    #[test]
    fn pdfs_are_recognised_by_their_bytes() {
        assert!(looks_like_pdf(b"%PDF-1.7\n..."));
        assert!(!looks_like_pdf(b"MZ\x90\x00"));
        assert!(!looks_like_pdf(b""));
    }
}
