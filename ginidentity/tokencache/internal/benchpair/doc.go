// Package benchpair measures two operations against each other in one benchmark loop, alternating them, so
// that the load of a shared machine weighs on both alike, and reports medians, which ignore the iterations
// a neighbour's burst interrupted.
package benchpair
