// Package diode checks the Diode discipline of a family of systems:
// commands flow down from higher systems to lower ones, telemetry flows
// up, and the code that could send a command up is absent from every
// lower system's binaries.
package diode
