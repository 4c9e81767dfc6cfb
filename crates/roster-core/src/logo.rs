//! Group logos: what an upload must be, checked by decoding it (the declared content type
//! and file name are never trusted). The bytes are kept exactly as uploaded.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::ValidationErrors;

pub const MAX_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_SIDE: u32 = 4096;

/// A decoded, accepted logo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoImage {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

fn refuse(message: &str) -> ValidationErrors {
    ValidationErrors::single("file", message)
}

/// Accepts PNG, JPEG, GIF and WebP of at most 2 MiB and 4096×4096 pixels that decode
/// completely; anything else is refused with the reason under `file`.
pub fn check(bytes: &[u8]) -> Result<LogoImage, ValidationErrors> {
    if bytes.is_empty() {
        return Err(refuse("The file field is required."));
    }
    if bytes.len() > MAX_BYTES {
        return Err(refuse("The file must not be greater than 2048 kilobytes."));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refuse("The file could not be read."))?;
    let content_type = match reader.format() {
        Some(ImageFormat::Png) => "image/png",
        Some(ImageFormat::Jpeg) => "image/jpeg",
        Some(ImageFormat::Gif) => "image/gif",
        Some(ImageFormat::WebP) => "image/webp",
        _ => return Err(refuse("The file must be a PNG, JPEG, GIF or WebP image.")),
    };
    let (width, height) = reader
        .into_dimensions()
        .map_err(|_| refuse("The file is not a valid image: it is damaged or truncated."))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(refuse("The file must be at most 4096 by 4096 pixels."));
    }
    // Decode it all, with bounded memory, so that a damaged or truncated file is refused
    // now rather than shown broken later.
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refuse("The file could not be read."))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(u64::from(MAX_SIDE) * u64::from(MAX_SIDE) * 4 + (1 << 20));
    reader.limits(limits);
    reader
        .decode()
        .map_err(|_| refuse("The file is not a valid image: it is damaged or truncated."))?;
    Ok(LogoImage { content_type, width, height })
}

#[cfg(test)]
mod tests {
    use image::{ImageBuffer, Rgba};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image: ImageBuffer<Rgba<u8>, Vec<u8>> =
            ImageBuffer::from_pixel(width, height, Rgba([9, 8, 7, 255]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    #[test]
    fn accepts_a_real_png() {
        assert_eq!(
            check(&png(16, 8)),
            Ok(LogoImage { content_type: "image/png", width: 16, height: 8 })
        );
    }

    #[test]
    fn refuses_what_is_not_an_image_or_is_broken() {
        let message = |r: Result<LogoImage, ValidationErrors>| {
            r.err().and_then(|e| e.fields().next().map(|(_, m)| m[0].clone()))
        };
        assert_eq!(
            message(check(b"not an image at all")),
            Some("The file must be a PNG, JPEG, GIF or WebP image.".into())
        );
        let whole = png(64, 64);
        assert_eq!(
            message(check(&whole[..whole.len() / 2])),
            Some("The file is not a valid image: it is damaged or truncated.".into())
        );
        assert_eq!(
            message(check(&png(4097, 1))),
            Some("The file must be at most 4096 by 4096 pixels.".into())
        );
        assert_eq!(message(check(&[])), Some("The file field is required.".into()));
    }
}
