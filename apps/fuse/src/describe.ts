import { OP } from "./protocol/opcodes.js";
import { args, type Request } from "./protocol/structs.js";

const decoder = new TextDecoder("utf-8", { fatal: false });

/** The arguments of a request in a few words, for the `-d` log (`{fh 3 [0 +131072)}`). */
export function describeRequest(req: Request): string {
  const v = req.body;
  const n = v.byteLength;
  const name = (at: number): string => {
    const bytes = req.bodyBytes.subarray(at);
    const end = bytes.indexOf(0);
    return JSON.stringify(decoder.decode(end < 0 ? bytes : bytes.subarray(0, end)));
  };
  switch (req.header.opcode) {
    case OP.LOOKUP:
      return name(0);
    case OP.READ:
    case OP.READDIR:
    case OP.READDIRPLUS:
      return n >= 24 ? `{fh ${args.u64(v, 0)} [${args.u64(v, 8)} +${args.u32(v, 16)})}` : "";
    case OP.OPEN:
    case OP.OPENDIR:
      return n >= 4 ? `{flags 0o${args.u32(v, 0).toString(8)}}` : "";
    case OP.GETXATTR:
      return n >= 8 ? `${name(8)} {size ${args.u32(v, 0)}}` : "";
    case OP.LISTXATTR:
      return n >= 4 ? `{size ${args.u32(v, 0)}}` : "";
    case OP.FORGET:
      return n >= 8 ? `{nlookup ${args.u64(v, 0)}}` : "";
    case OP.BATCH_FORGET:
      return n >= 4 ? `{count ${args.u32(v, 0)}}` : "";
    case OP.LSEEK:
      return n >= 20 ? `{fh ${args.u64(v, 0)} offset ${args.u64(v, 8)} whence ${args.u32(v, 16)}}` : "";
    case OP.INTERRUPT:
      return n >= 8 ? `{unique ${args.u64(v, 0)}}` : "";
    case OP.INIT:
      return n >= 16 ? `{${args.u32(v, 0)}.${args.u32(v, 4)} flags 0x${args.u32(v, 12).toString(16)}}` : "";
    default:
      return "";
  }
}
