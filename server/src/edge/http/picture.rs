//! Pictures the node decodes: thumbnails of shared pictures, and people's
//! avatars.
//!
//! Decoding is what costs: a small file may hold a picture of hundreds of
//! megabytes. Every decode first reserves what its pixels take from the
//! node's budget of [`THUMB_BUDGET_MIB`]; pictures wait for their turn,
//! and one that cannot start within [`WAIT`] is refused as busy (try
//! again). A picture larger than the whole budget, or than [`MAX_SIDE`]
//! pixels a side, is not decoded at all.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use image::DynamicImage;

use crate::store::files::{FileStore, THUMB_BUDGET_MIB};

/// Larger pictures are not decoded.
const MAX_SIDE: u32 = 12_000;
/// How long a decode waits for its share of the budget.
const WAIT: Duration = Duration::from_secs(10);

/// Why a picture was not made.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// Not a picture this node reads, or too large to decode here.
    #[error("{0}")]
    Unreadable(String),
    #[error("busy with other pictures; try again in a moment")]
    Busy,
    #[error("the decoder stopped")]
    Stopped(#[from] tokio::task::JoinError),
}

/// Decodes the picture at `src` within the node's budget and hands it to
/// `make`, on a blocking thread; `ready` runs first once the turn has come
/// (something made meanwhile by another request: no decode then).
pub async fn decoded<T: Send + 'static>(
    files: &Arc<FileStore>,
    src: PathBuf,
    ready: impl FnOnce() -> Option<T> + Send + 'static,
    make: impl FnOnce(DynamicImage) -> Result<T, String> + Send + 'static,
) -> Result<T, PictureError> {
    let header = src.clone();
    let (w, h) = tokio::task::spawn_blocking(move || -> Result<(u32, u32), String> {
        let reader = image::ImageReader::open(&header).map_err(|e| e.to_string())?;
        reader.with_guessed_format().map_err(|e| e.to_string())?.into_dimensions().map_err(|e| e.to_string())
    })
    .await?
    .map_err(PictureError::Unreadable)?;
    // RGBA at 8 bits: what the largest decoder output takes.
    let mib = (u64::from(w) * u64::from(h) * 4).div_ceil(1 << 20).max(1);
    let Some(cost) = u32::try_from(mib).ok().filter(|c| *c <= THUMB_BUDGET_MIB) else {
        return Err(PictureError::Unreadable(format!("a {w}×{h} picture is too large to decode here")));
    };
    let permit = tokio::time::timeout(WAIT, files.decoding().clone().acquire_many_owned(cost))
        .await
        .map_err(|_| PictureError::Busy)?
        .map_err(|_| PictureError::Busy)?;
    tokio::task::spawn_blocking(move || -> Result<T, String> {
        let _permit = permit;
        if let Some(done) = ready() {
            return Ok(done);
        }
        let mut reader = image::ImageReader::open(&src).map_err(|e| e.to_string())?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(u64::from(cost) << 20);
        reader.limits(limits);
        let img = reader.with_guessed_format().map_err(|e| e.to_string())?.decode().map_err(|e| e.to_string())?;
        make(img)
    })
    .await?
    .map_err(PictureError::Unreadable)
}

/// `img` as a PNG.
pub fn png(img: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// The square at the middle of `img`, `side` pixels a side.
pub fn square(img: &DynamicImage, side: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let s = w.min(h);
    img.crop_imm((w - s) / 2, (h - s) / 2, s, s).resize_exact(side, side, image::imageops::FilterType::Lanczos3)
}

#[cfg(test)]
mod tests {
    use super::square;

    #[test]
    fn a_picture_is_cropped_to_its_middle_square() {
        // Left third red, middle blue, right third green: the square is blue.
        let img = image::RgbImage::from_fn(300, 100, |x, _| match x {
            0..100 => image::Rgb([255, 0, 0]),
            100..200 => image::Rgb([0, 0, 255]),
            _ => image::Rgb([0, 255, 0]),
        });
        let out = square(&image::DynamicImage::ImageRgb8(img), 64).to_rgb8();
        assert_eq!(out.dimensions(), (64, 64));
        assert_eq!(out.get_pixel(32, 32), &image::Rgb([0, 0, 255]));
        assert_eq!(out.get_pixel(1, 1), &image::Rgb([0, 0, 255]), "nothing of the sides");
    }
}
