export { DevOrchestrator, type DevOrchestratorOptions, type ModuleExit } from './orchestrator.js'
export { createGateway } from './gateway.js'
export { prettyLogLine, endpointTable } from './pretty.js'
export { freePort } from './free-port.js'
