//! Raw images (QEMU `pmemsave`, LiME "padded" mode, `dd` of `/dev/mem`): the whole file is
//! physical memory from address 0, file offset = physical address.

use super::flat::{Extent, MappedImage};
use crate::engine::mapped::Blob;

/// The raw image in `blob` (named `file` in messages). An empty file has no ranges.
pub(crate) fn parse(blob: Blob, file: String) -> MappedImage {
    let len = blob.len() as u64;
    let extents = if len == 0 {
        Vec::new()
    } else {
        vec![Extent {
            phys: 0..len,
            file: 0,
            stored: len,
            origin: 0,
        }]
    };
    MappedImage::new(file, blob, "raw", extents, Vec::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use crate::engine::kernel::physical::PhysicalMemory;

    #[test]
    fn offset_is_address() {
        let img = parse(Blob::Owned((0..64u8).collect()), "r".into());
        assert_eq!(img.ranges(), &[0..64]);
        let mut buf = [9u8; 8];
        let r = img.read_phys(60, &mut buf).unwrap();
        assert_eq!(r.captured, vec![0..4]);
        assert_eq!(buf, [60, 61, 62, 63, 0, 0, 0, 0]);
        assert!(
            parse(Blob::Owned(Vec::new()), "r".into())
                .ranges()
                .is_empty()
        );
    }
}
