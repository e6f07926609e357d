// Calls an Egret instance over gRPC-Web with Connect for the web (a client written by
// others), from the instance's own descriptors, and prints one JSON line per case:
// {"case", "code", "message", "value"}. A code of 0 is success.
//
// node client.mjs ADDRESS DESCRIPTORS TOKEN ROOT
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

const [address, descriptors, token, root] = process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descriptors)),
);
const service = (name) => {
  const found = registry.getService(name);
  if (!found) throw new Error(`no service ${name} in the descriptors`);
  return found;
};

const transport = createGrpcWebTransport({
  baseUrl: `http://${address}`,
  useBinaryFormat: true,
});
const orgUnits = createClient(service("egret.registry.v1.OrgUnitService"), transport);
const exports = createClient(service("egret.reporting.v1.ExportService"), transport);
const signedIn = { headers: { authorization: `Bearer ${token}` } };

async function run(name, call) {
  try {
    const value = await call();
    console.log(JSON.stringify({ case: name, code: 0, message: "", value }));
  } catch (error) {
    const connectError = ConnectError.from(error);
    console.log(
      JSON.stringify({
        case: name,
        code: connectError.code,
        message: connectError.rawMessage,
        value: null,
      }),
    );
  }
}

await run("get the root", async () => {
  const response = await orgUnits.getOrgUnit({ name: root }, signedIn);
  return response.orgUnit.displayName;
});
await run("a unit that does not exist", async () => {
  await orgUnits.getOrgUnit(
    { name: "orgUnits/01a2249c-0000-7000-8000-000000000000" },
    signedIn,
  );
});
await run("no token", async () => {
  await orgUnits.getOrgUnit({ name: root });
});
await run("a malformed name", async () => {
  await orgUnits.getOrgUnit({ name: "teams/nope" }, signedIn);
});
await run("a streamed export", async () => {
  let bytes = 0;
  let chunks = 0;
  // ExportFormat.EXPORT_FORMAT_CSV = 1
  for await (const response of exports.exportTeams({ orgUnit: root, format: 1 }, signedIn)) {
    chunks += 1;
    bytes += response.chunk.data.length;
  }
  return { chunks, bytes };
});
await run("a streamed export refused", async () => {
  for await (const _ of exports.exportTeams({ orgUnit: root, format: 0 }, signedIn)) {
    // nothing arrives
  }
});
