import NIOHTTP1

extension NIOHTTPDecoderLimitConfiguration {
    /// A health probe's header limits: 32 KiB of header names and values, 8 KiB in one field, 256
    /// fields (NIO's defaults are 80 KiB and 65,534 fields).
    static var probe: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = 32 * 1024
        limits.maxHeaderFieldSize = 8 * 1024
        limits.maxHeaderFieldCount = 256
        return limits
    }
}
