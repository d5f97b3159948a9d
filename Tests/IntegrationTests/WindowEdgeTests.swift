import AimonCore
import Foundation
import Testing

/// A window's sum read with hour buckets at its edges (an hour less the minutes outside the window)
/// equals the plain sum of its minute buckets, on a real Redis, wherever the window's edges fall.
@Suite struct WindowEdgeTests {
    @Test func edgeHoursReadAsHourLessMinutesAreExact() throws {
        let prefix = "edge" + UUID().uuidString.prefix(8).lowercased()
        let keys = KeySchema(prefix: prefix)
        let redis = try RedisServer.shared.connection()
        let store = WindowStore(keys: keys, retention: Retention(), host: "h")
        // Ingest happens at t0 (an hour start + 10 min): 50 hours of history, every minute a
        // different mix, and a few calls up to 4 minutes ahead (a clock running fast). t0 lies ahead
        // of Redis's clock, as the time of a report always does: Redis expires minute buckets
        // `retention.minute_buckets` after their start by its own clock.
        let hourNow = Int64(Date().timeIntervalSince1970) / 3600 * 3600
        let t0 = Double(hourNow + 3600 + 600)
        var batch = WindowBatch(retention: Retention(), maxErrorMessages: 50)
        var models = ModelRegistry(capacity: 10)
        var minute = Int64(t0) - 50 * 3600
        var i = 0
        while minute <= Int64(t0) + 240 {
            for k in 0..<(i % 4) {
                try batch.add(APICall(timestamp: Double(minute) + Double(k * 13), model: "m", success: (i + k) % 5 != 0,
                                      responseTime: 0.05 * Double(1 + (i * 7 + k) % 40), statusCode: (i + k) % 5 == 0 ? 503 : 200),
                              registry: &models, now: t0)
            }
            minute += 60
            i += 1
        }
        _ = try store.commit(.init(batch: batch, changes: [CheckpointChange(id: "f", expected: "", new: "1")], now: Int64(t0)), on: redis)

        let reader = WindowReader(keys: keys, redis: redis, minuteRetention: Retention().minuteBuckets)
        var fewer = 0
        var withData = 0
        for offset in [0, 1, 29, 30, 31, 49, 58, 59] {
            let now = t0 + Double(offset * 60) + 5
            for hours in [0.25, 1, 1.5, 2, 5.25, 23.9, 24, 47, 48] {
                let w = WindowReader.window(hours: hours, now: now)
                var c = RedisCommands()
                for s in w.starts { c.append(["HMGET", keys.bucket("m", .minute, start: s)], BucketCounts.fieldNames) }
                var plain = BucketCounts()
                for reply in try redis.pipeline(c) { plain.merge(BucketCounts(values: (reply.array ?? []).map(\.integer))) }
                let read = try reader.sum("m", .minute, starts: w.starts)
                #expect(read == plain, "\(hours) h at +\(offset) min: \(read.calls) calls read, \(plain.calls) in its minutes")
                if plain.calls > 0 { withData += 1 }
                if reader.bucketTerms("m", .minute, starts: w.starts).contains(where: \.subtract) { fewer += 1 }
            }
        }
        #expect(fewer > 20)  // the subtraction was used, not only the plain minutes
        // The system report's calls per hour add up to its total: each hour of the window is read
        // like the window itself (an hour whose earlier minutes are gone is read from its minutes).
        for offset in [0, 10, 30, 59] {
            for hours in [1.5, 24, 47.5, 48] {
                let report = try reader.system(hours: hours, now: t0 + Double(offset * 60) + 5)
                #expect(report.hourlyDistribution.reduce(0) { $0 + $1.calls } == report.overall.counts.calls, "\(hours) h at +\(offset) min")
            }
        }
        #expect(withData > 60)
        // 24 hours never take more than 23 hours and 62 reads at the edges (it was up to 118 minutes).
        let w = WindowReader.window(hours: 24, now: t0 + 30 * 60 + 5)
        #expect(reader.bucketTerms("m", .minute, starts: w.starts).count <= 23 + 62)
        // Without knowing the minute retention, the first hour is read from its minutes only.
        let blind = WindowReader(keys: keys, redis: redis)
        let old = WindowReader.window(hours: 48, now: t0 + 5)
        let blindTerms = blind.bucketTerms("m", .minute, starts: old.starts)
        #expect(!blindTerms.prefix(40).contains { $0.subtract })
    }
}
