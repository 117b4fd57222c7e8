import { Type, type Static } from '#typebox'

const Positive = Type.Integer({ minimum: 1 })
const ChannelKindSchema = Type.Union([Type.Literal('stdio'), Type.Literal('tcp'), Type.Literal('ipc')])

/** `channels` option of the root plugin: `false` ignores the channels the Init blob offers. */
export const ChannelsOptionSchema = Type.Union([Type.Literal(false), Type.Object({
  /** Connect `init.tcp_channel` when offered (default true). */
  tcp: Type.Optional(Type.Boolean()),
  /** Connect `init.ipc_channel` when offered (default true). */
  ipc: Type.Optional(Type.Boolean()),
  /** Order in which `channels.send()` tries channels (default `['ipc', 'tcp', 'stdio']`). */
  prefer: Type.Optional(Type.Array(ChannelKindSchema, { minItems: 1, uniqueItems: true })),
  /** Cap of one inbound frame's payload (default 64 MiB). */
  maxFrameBytes: Type.Optional(Positive),
  /** Time one connection attempt may take (default 30 000 ms). */
  connectTimeout: Type.Optional(Positive),
  /** Time a frame may stay incomplete before the connection is dropped (default 30 000 ms). */
  partialFrameTimeout: Type.Optional(Positive),
  /** Outbound bytes above which a channel stops reading until it drains (default 16 MiB). */
  highWaterBytes: Type.Optional(Positive),
  reconnect: Type.Optional(Type.Object({
    /** First delay (default 100 ms). */
    initialDelay: Type.Optional(Positive),
    /** Cap of one delay (default 30 000 ms). */
    maxDelay: Type.Optional(Positive),
    /** Consecutive failed attempts before the channel gives up (default 20). */
    maxAttempts: Type.Optional(Type.Integer({ minimum: 0 }))
  }, { additionalProperties: false })),
  breaker: Type.Optional(Type.Object({
    /** Consecutive failed writes that open a channel's breaker (default 5). */
    threshold: Type.Optional(Positive),
    /** Time before an open breaker lets one trial write through (default 30 000 ms). */
    halfOpenAfter: Type.Optional(Positive)
  }, { additionalProperties: false })),
  /** Send an enveloped `identify` after each connect (default false: Rust never does, docs/protocol.md §4.4). */
  identify: Type.Optional(Type.Boolean())
}, { additionalProperties: false })])

/** The `channels` option. */
export type ChannelsOption = Static<typeof ChannelsOptionSchema>

/** A channel `fastify.pywatt.channels` can use. */
export type ChannelKind = Static<typeof ChannelKindSchema>
