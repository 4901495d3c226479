/** Importing this module registers every controller (each module calls registerController). */
import "./deployment.js";
import "./replicaset.js";
import "./daemonset.js";
import "./endpointslice.js";
import "./endpoints.js";
import "./node-ipam.js";
import "./node-lifecycle.js";
import "./garbage-collector.js";
import "./namespace.js";
import "./serviceaccount.js";
