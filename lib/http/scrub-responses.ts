import type { FastifyInstance, FastifyReply } from 'fastify'
import { secretRegistry } from '../logging/registry.js'

// Bodies that are text: a secret in them reads as the secret. Other bytes (images, archives) are left whole.
const TEXTUAL = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded)\b)/i

function isTextual (reply: FastifyReply): boolean {
  const type = reply.getHeader('content-type')
  return typeof type === 'string' && TEXTUAL.test(type)
}

/**
 * Replace every known secret value in response bodies by `[REDACTED]`, with
 * the encodings the log scrubber knows: a JSON body keeps its shape (only its
 * string values are touched). Strings and textual Buffers are scrubbed;
 * streams go out as they are (they would have to be held whole to be
 * searched). Fastify sets `content-length` after `onSend`, from the new body.
 */
export function scrubResponses (app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (secretRegistry.size === 0) return payload
    if (typeof payload === 'string') return secretRegistry.scrub(payload)
    if (Buffer.isBuffer(payload) && isTextual(reply)) {
      const text = payload.toString('utf8')
      const scrubbed = secretRegistry.scrub(text)
      return scrubbed === text ? payload : Buffer.from(scrubbed, 'utf8')
    }
    return payload
  })
}
