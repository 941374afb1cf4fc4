//! Large zeroed buffers that ask the kernel for huge pages before they are first
//! touched: filling a gigabyte of fresh 4 KiB pages costs a page fault each, which is
//! most of the time spent reading a snapshot; 2 MiB pages cost 512 times fewer.

/// Buffers smaller than this are left to the allocator as they are.
const HUGE: usize = 4 << 20;

/// A zeroed vector of `len` values; a large one is advised to use transparent huge
/// pages (where the kernel offers them; elsewhere the advice is ignored).
pub fn zeroed<T: bytemuck::Zeroable + Clone>(len: usize) -> Vec<T> {
    let values = vec![T::zeroed(); len];
    let bytes = len.saturating_mul(size_of::<T>());
    if bytes >= HUGE {
        advise_huge(values.as_ptr().cast(), bytes);
    }
    values
}

#[cfg(target_os = "linux")]
fn advise_huge(start: *const u8, len: usize) {
    const PAGE: usize = 4096;
    let first = (start as usize).next_multiple_of(PAGE);
    let end = (start as usize + len) & !(PAGE - 1);
    if end > first {
        // SAFETY: the range lies inside one live allocation; MADV_HUGEPAGE only changes
        // how the kernel backs it, never its contents or validity.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_start: *const u8, _len: usize) {}
