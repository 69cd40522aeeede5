//! ApiErrors: Finesse's error documents, synchronous (HTTP body, PascalCase)
//! and asynchronous (inside an `<Update>`, camelCase) (Finesse Developer Guide: notification
//! pages; API errors).

use crate::Error;
use crate::xml::{Elem, XmlReader, XmlWriter};

/// One Finesse error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiError {
    /// `Invalid Input`, `Call Operation Failure`, `Generic Error`...
    pub error_type: String,
    /// The CTI constant or message (`CF_RESOURCE_OUT_OF_SERVICE`...).
    pub error_message: String,
    /// The CTI error code or the offending value.
    pub error_data: Option<String>,
}

/// Which spelling to write: the two forms differ only in case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorStyle {
    /// `ApiErrors/ApiError/ErrorType`: the body of a synchronous HTTP error.
    Rest,
    /// `apiErrors/apiError/errorType`: inside an `<Update><data>` notification.
    Notification,
}

impl ApiError {
    /// Parses an `<ApiErrors>` document (either spelling).
    pub fn list_from_xml(xml: &str) -> Result<Vec<ApiError>, Error> {
        let mut r = XmlReader::new(xml);
        let root = r.root()?;
        let errors = match root.name().as_bytes() {
            b"apierrors" => ApiError::read_list(&mut r, &root)?,
            b"apierror" => vec![ApiError::read(&mut r, &root)?],
            _ => {
                return Err(Error::UnexpectedRoot {
                    expected: "<ApiErrors>",
                    found: root.raw_name(),
                });
            }
        };
        r.finish()?;
        Ok(errors)
    }

    /// Writes an `<ApiErrors>` document holding `errors`.
    pub fn list_to_xml(errors: &[ApiError], style: ApiErrorStyle) -> String {
        let mut w = XmlWriter::with_capacity(256);
        ApiError::write_list(errors, &mut w, style);
        w.finish()
    }

    pub(crate) fn read_list<'a>(
        r: &mut XmlReader<'a>,
        el: &Elem<'a>,
    ) -> Result<Vec<ApiError>, Error> {
        let mut out = Vec::new();
        while let Some(c) = r.child(el)? {
            if c.name().as_bytes() == b"apierror" {
                out.push(ApiError::read(r, &c)?);
            } else {
                r.skip(&c)?;
            }
        }
        Ok(out)
    }

    fn read<'a>(r: &mut XmlReader<'a>, el: &Elem<'a>) -> Result<ApiError, Error> {
        let mut e = ApiError::default();
        while let Some(c) = r.child(el)? {
            match c.name().as_bytes() {
                b"errortype" => e.error_type = r.trimmed(&c)?,
                b"errormessage" => e.error_message = r.trimmed(&c)?,
                b"errordata" => e.error_data = r.opt(&c)?,
                _ => r.skip(&c)?,
            }
        }
        Ok(e)
    }

    pub(crate) fn write_list(errors: &[ApiError], w: &mut XmlWriter, style: ApiErrorStyle) {
        let (list, one, ty, msg, data) = match style {
            ApiErrorStyle::Rest => (
                "ApiErrors",
                "ApiError",
                "ErrorType",
                "ErrorMessage",
                "ErrorData",
            ),
            ApiErrorStyle::Notification => (
                "apiErrors",
                "apiError",
                "errorType",
                "errorMessage",
                "errorData",
            ),
        };
        w.open(list);
        for e in errors {
            w.open(one);
            w.leaf_opt(data, e.error_data.as_deref());
            w.leaf(msg, &e.error_message);
            w.leaf(ty, &e.error_type);
            w.close(one);
        }
        w.close(list);
    }
}
