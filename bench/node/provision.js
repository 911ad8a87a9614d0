// Fleet provisioning by claim with the AWS IoT Device SDK v2 for JavaScript:
// the flow that ggl-fleetd runs, for a side-by-side measurement.
//
// It makes an EC P-256 key and a CSR with `openssl req` (Node.js has no CSR
// API), connects over MQTT 5 with mutual TLS using the claim certificate,
// subscribes to the CreateCertificateFromCsr and RegisterThing responses,
// sends both requests, writes the new certificate and key, and connects once
// with the new certificate and the thing name as client ID. It prints one
// JSON line with the thing name and the time of each phase in milliseconds,
// and exits 0 on success and 1 on any failure.
"use strict";

const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { iot, mqtt, mqtt5, iotidentity } = require("aws-iot-device-sdk-v2");

function parseArgs(argv) {
	const args = {};
	for (let i = 0; i < argv.length; i += 2) {
		if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
			throw new Error(`invalid argument ${JSON.stringify(argv[i])}`);
		}
		args[argv[i].slice(2)] = argv[i + 1];
	}
	const required = ["endpoint", "port", "ca", "cert", "key", "client-id",
		"template", "out"];
	for (const name of required) {
		if (!args[name]) {
			throw new Error(`--${name} is missing`);
		}
	}
	return args;
}

// Generates an EC P-256 key and a CSR with the client ID as common name.
function makeCSR(dir, commonName) {
	const keyPath = path.join(dir, "priv_key");
	const csrPath = path.join(dir, "csr.pem");
	execFileSync("openssl", ["req", "-new", "-newkey", "ec",
		"-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", keyPath, "-out", csrPath, "-subj", `/CN=${commonName}`],
	{ stdio: ["ignore", "ignore", "inherit"] });
	fs.chmodSync(keyPath, 0o600);
	return { keyPath, csr: fs.readFileSync(csrPath, "utf8") };
}

// Starts an MQTT 5 client and resolves once the CONNACK arrived.
function connect(args, certPath, keyPath, clientId) {
	const builder = iot.AwsIotMqtt5ClientConfigBuilder
		.newDirectMqttBuilderWithMtlsFromPath(args.endpoint, certPath, keyPath);
	builder.withCertificateAuthorityFromPath(undefined, args.ca);
	builder.withPort(Number(args.port));
	builder.withConnectProperties({ clientId, keepAliveIntervalSeconds: 60 });
	const client = new mqtt5.Mqtt5Client(builder.build());

	return new Promise((resolve, reject) => {
		client.on("connectionSuccess", () => resolve(client));
		client.on("connectionFailure", (event) => {
			client.close();
			reject(new Error(`connect as ${clientId} failed: ${event.error}`));
		});
		client.start();
	});
}

// Stops the client and resolves once it is stopped.
function disconnect(client) {
	return new Promise((resolve) => {
		client.on("stopped", () => {
			client.close();
			resolve();
		});
		client.stop();
	});
}

// Subscribes to the accepted and rejected topics of one operation. It
// resolves once both SUBACKs arrived, to a holder whose response promise
// settles with the accepted response or the rejection.
async function subscribeResponse(subscribeAccepted, subscribeRejected, request, name) {
	const holder = {};
	holder.response = new Promise((resolve, reject) => {
		holder.resolve = resolve;
		holder.reject = reject;
	});
	holder.response.catch(() => {}); // awaited later; no unhandled rejection
	const qos = mqtt.QoS.AtLeastOnce;
	await subscribeAccepted(request, qos, (err, res) => {
		if (err) holder.reject(err); else holder.resolve(res);
	});
	await subscribeRejected(request, qos, (err, res) => {
		holder.reject(err || new Error(`${name} rejected: ${JSON.stringify(res)}`));
	});
	return holder;
}

async function provision(args) {
	const times = {};
	let start = Date.now();
	const { keyPath, csr } = makeCSR(args.out, args["client-id"]);
	times.csr = Date.now() - start;

	start = Date.now();
	const client = await connect(args, args.cert, args.key, args["client-id"]);
	times.connect = Date.now() - start;

	start = Date.now();
	const identity = iotidentity.IotIdentityClient.newFromMqtt5Client(client);
	const [created, registered] = await Promise.all([
		subscribeResponse(
			identity.subscribeToCreateCertificateFromCsrAccepted.bind(identity),
			identity.subscribeToCreateCertificateFromCsrRejected.bind(identity),
			{}, "CreateCertificateFromCsr"),
		subscribeResponse(
			identity.subscribeToRegisterThingAccepted.bind(identity),
			identity.subscribeToRegisterThingRejected.bind(identity),
			{ templateName: args.template }, "RegisterThing"),
	]);
	times.subscribe = Date.now() - start;

	start = Date.now();
	await identity.publishCreateCertificateFromCsr(
		{ certificateSigningRequest: csr }, mqtt.QoS.AtLeastOnce);
	const cert = await created.response;
	times.createCertificate = Date.now() - start;

	start = Date.now();
	await identity.publishRegisterThing({
		templateName: args.template,
		certificateOwnershipToken: cert.certificateOwnershipToken,
		parameters: { SerialNumber: args["client-id"] },
	}, mqtt.QoS.AtLeastOnce);
	const thing = await registered.response;
	times.registerThing = Date.now() - start;
	await disconnect(client);

	const certPath = path.join(args.out, "certificate.pem");
	fs.writeFileSync(certPath, cert.certificatePem, { mode: 0o644 });

	start = Date.now();
	const device = await connect(args, certPath, keyPath, thing.thingName);
	await disconnect(device);
	times.verify = Date.now() - start;
	return { thingName: thing.thingName, ms: times };
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const result = await provision(args);
	process.stdout.write(JSON.stringify(result) + "\n");
	process.exit(0);
}

main().catch((err) => {
	process.stderr.write(`provisioning failed: ${err.message || err}\n`);
	process.exit(1);
});
